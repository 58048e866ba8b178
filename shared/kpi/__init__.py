"""The pure heart of Paceline: catalog, formulas, record state and facts, periods, pace.

No I/O, no database, no clock reads: time and data are passed in.
"""
