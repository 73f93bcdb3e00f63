from vlmfiles.cli import main

main()
