"""Unknown-rep flags are remembered only once their batch commits."""

from __future__ import annotations

from paceline.scoring.facts.service import FlagMemo


def test_a_rolled_back_batch_leaves_no_memory() -> None:
    memo = FlagMemo(ttl_s=600)
    memo.remember("t1", "ghost")
    assert not memo.seen("t1", "ghost")  # not before the commit
    memo.rolled_back()
    memo.committed()  # a later, unrelated commit must not resurrect it
    assert not memo.seen("t1", "ghost")


def test_a_committed_flag_is_remembered_until_its_ttl() -> None:
    memo = FlagMemo(ttl_s=600)
    memo.remember("t1", "ghost")
    memo.committed()
    assert memo.seen("t1", "ghost")
    assert not memo.seen("t2", "ghost")  # per tenant
    expired = FlagMemo(ttl_s=-1)
    expired.remember("t1", "ghost")
    expired.committed()
    assert not expired.seen("t1", "ghost")
