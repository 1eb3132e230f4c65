from medfeed.cli import main

main()
