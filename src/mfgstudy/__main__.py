from mfgstudy.cli import main

raise SystemExit(main())
