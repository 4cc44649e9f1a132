"""One exception type for input the user can fix; the CLI turns it into exit code 2."""


class UserError(Exception):
    """Bad input (config key, path, data row). The message names what to fix."""
