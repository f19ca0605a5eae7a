from ledger_testkit import *  # noqa: F403
