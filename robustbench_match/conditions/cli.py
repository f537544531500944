"""``rbm data`` lives in robustbench_match.commands.data; this name is kept for imports."""
from ..commands.data import *  # noqa: F401,F403
from ..commands.data import HELP, add_arguments, run  # noqa: F401
