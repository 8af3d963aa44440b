"""``python -m qiot_enviro.agent``: the agent's command line."""

import sys

from .cli import main

sys.exit(main())
