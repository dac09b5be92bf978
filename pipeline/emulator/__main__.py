from pipeline.emulator.server import main

main()
