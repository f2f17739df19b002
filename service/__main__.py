"""`python -m service ...` is the `amflow` command (used to start the worker beside `amflow serve`)."""

from service.cli import main

main()
