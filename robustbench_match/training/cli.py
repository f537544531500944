"""``rbm train`` lives in robustbench_match.commands.train; this name is kept for imports."""
from ..commands.train import *  # noqa: F401,F403
from ..commands.train import HELP, add_arguments, run  # noqa: F401
