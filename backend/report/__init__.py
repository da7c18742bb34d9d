"""The season report (issue 17): what the programme achieved, field by field and for the
province: the water regime from the paddy water level, IPCC 2019 Tier 1 methane against
continuous flooding, water applied, advice and alerts acted on, node uptime.

In backend (the core) because the command line (`ruong report`), the JSON API and the
dashboard's report page all build the same report (docs/architecture.md, "Layers")."""
