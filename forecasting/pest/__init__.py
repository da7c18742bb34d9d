"""Rice pest and disease risk from published weather rules, explained in Vietnamese and English.

A field's readings and its crop's days after transplanting -> :func:`assess` -> one
:class:`Risk` per rule (level 0-3 or None, the pest's name and the reason with the numbers as
messages of the catalogue, backend/locale `pest.*`, the rule id, the citation) -> the
`forecasts` measurement; scouting records -> :func:`refine`.

- :mod:`forecasting.pest.weather`: hourly weather, leaf wetness, windows and coverage;
- :mod:`forecasting.pest.rules`: the five rules, their texts and sources, :data:`REGISTRY`;
- :mod:`forecasting.pest.assessment`: the rules run on a field's readings;
- :mod:`forecasting.pest.refine`: daily features and the scikit-learn refinement.
"""

from forecasting.pest.assessment import (
    assess,
    bacterial_blight_risk,
    blast_risk,
    leaf_folder_risk,
    planthopper_risk,
    sheath_blight_risk,
)
from forecasting.pest.refine import Refinement, RefinementReport, daily_features, refine
from forecasting.pest.rules import REGISTRY, RULES_JSON, Risk, RuleFn, load_rules
from forecasting.pest.weather import (
    MIN_COVERAGE,
    InputError,
    degree_days,
    hourly_weather,
    wet_spells,
)

__all__ = [
    "MIN_COVERAGE",
    "REGISTRY",
    "RULES_JSON",
    "InputError",
    "Refinement",
    "RefinementReport",
    "Risk",
    "RuleFn",
    "assess",
    "bacterial_blight_risk",
    "blast_risk",
    "daily_features",
    "degree_days",
    "hourly_weather",
    "leaf_folder_risk",
    "load_rules",
    "planthopper_risk",
    "refine",
    "sheath_blight_risk",
    "wet_spells",
]
