from kraken_tui.cli import main

main()
