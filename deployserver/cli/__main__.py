from deployserver.cli import main

main()
