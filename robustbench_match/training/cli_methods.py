"""``rbm methods`` lives in robustbench_match.commands.methods; this name is kept for imports."""
from ..commands.methods import *  # noqa: F401,F403
from ..commands.methods import HELP, add_arguments, run  # noqa: F401
