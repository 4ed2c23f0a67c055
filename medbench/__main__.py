from medbench.cli.main import main

raise SystemExit(main())
