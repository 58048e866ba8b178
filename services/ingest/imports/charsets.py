"""The text of a history file: UTF-8 (with or without a BOM), or a declared or detected
legacy charset — above all GBK/GB18030, what Chinese Excel writes by default ("CSV").

Detection is deliberately narrow, without a statistical detector: bytes that are valid
UTF-8 are UTF-8 (a legacy-encoded Chinese file is practically never valid UTF-8), and
otherwise GB18030 (a superset of GBK and GB2312) is tried strictly. A file read that way
gets a warning in the report, so a mis-guess (a Big5 or Latin-1 file) is visible; declaring
the charset (``charset=big5``) then reads it right.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable
from typing import Final

from paceline.shared.errors import FieldError, InvalidInput
from paceline.shared.i18n import Msg, msg

# Accepted names -> the codec that reads them. GBK and GB2312 files are read as GB18030,
# their superset (it also knows the euro sign and the characters GBK lacks).
CHARSETS: Final[dict[str, str]] = {
    "utf-8": "utf-8-sig",
    "utf8": "utf-8-sig",
    "gb18030": "gb18030",
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "cp936": "gb18030",
    "big5": "big5",
}
DETECTED: Final = "gb18030"


def codec_of(charset: str | None) -> str | None:
    """The codec for a declared charset (None when undeclared), or 422 naming ``charset``."""
    if charset is None or not charset.strip():
        return None
    codec = CHARSETS.get(charset.strip().strip('"').lower())
    if codec is None:
        raise InvalidInput(
            msg("imports.charset.unsupported", charset=charset[:40]),
            fields=[
                FieldError(
                    "charset",
                    msg("imports.charset.not_one_of", charset=charset[:40], known=list(CHARSETS)),
                )
            ],
        )
    return codec


def detection_warning(codec: str) -> Msg:
    """The report's warning for a file whose charset was guessed."""
    return msg("imports.charset.detected", codec=codec.upper())


def decode(body: bytes, charset: str | None) -> tuple[str, Msg | None]:
    """The file's text (BOM removed) and a warning if its charset was detected, or 422."""
    codec = codec_of(charset)
    if codec is not None:
        try:
            return body.decode(codec).removeprefix("\ufeff"), None
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                msg("imports.charset.not_it", charset=charset),
                fields=[
                    FieldError(
                        "content", msg("imports.charset.not_it_why", charset=charset, why=str(exc))
                    )
                ],
            ) from None
    try:
        return body.decode("utf-8-sig"), None
    except UnicodeDecodeError as utf8_error:
        try:
            return body.decode(DETECTED), detection_warning(DETECTED)
        except UnicodeDecodeError:
            raise InvalidInput(
                msg("imports.charset.neither"),
                fields=[
                    FieldError(
                        "content",
                        msg("imports.charset.not_it_why", charset="UTF-8", why=str(utf8_error)),
                    )
                ],
            ) from None


def detect_chunks(chunks: Iterable[bytes], charset: str | None) -> tuple[str, Msg | None]:
    """The codec for a file read in chunks (as :func:`decode` would choose), and the
    warning if detected; 422 if the declared (or every candidate) charset fails."""
    declared = codec_of(charset)
    candidates = [declared] if declared is not None else ["utf-8-sig", DETECTED]
    decoders = {c: codecs.getincrementaldecoder(c)() for c in candidates}
    failed: dict[str, str] = {}
    for chunk in chunks:
        for c, dec in decoders.items():
            if c in failed:
                continue
            try:
                dec.decode(chunk)
            except UnicodeDecodeError as exc:
                failed[c] = str(exc)
    for c, dec in decoders.items():
        if c not in failed:
            try:
                dec.decode(b"", final=True)
            except UnicodeDecodeError as exc:
                failed[c] = str(exc)
    for c in candidates:
        if c not in failed:
            return c, (detection_warning(c) if declared is None and c == DETECTED else None)
    raise InvalidInput(
        msg("imports.charset.not_it", charset=charset)
        if declared is not None
        else msg("imports.charset.neither"),
        fields=[
            FieldError(
                "content",
                msg(
                    "imports.charset.not_it_why",
                    charset=charset if declared is not None else "UTF-8",
                    why=failed[candidates[0]],
                ),
            )
        ],
    )
