from batpass.cli import main

main()
