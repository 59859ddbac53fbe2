from tbptt_viz.cli import main

raise SystemExit(main())
