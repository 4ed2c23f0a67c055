from medbench.cli import main

raise SystemExit(main())
