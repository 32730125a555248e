from jiseki.cli import main

raise SystemExit(main())
