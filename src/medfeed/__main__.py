from medfeed.cli import program

program()
