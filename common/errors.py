"""One exception type for mistakes a user can fix.

Every entry script turns a `UserError` into a single `error: ...` line and a
non-zero exit, so a typo in a flag or a broken input file never shows a
traceback. Anything else escaping is a bug and keeps its traceback.
"""


class UserError(Exception):
    """A problem with the user's input (file, field, flag); the message names it."""
