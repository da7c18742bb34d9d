"""The imperfect outlook: without error it is the realised weather; its errors grow with the
lead day and it is not grossly biased."""

from __future__ import annotations

import numpy as np

from forecasting.outlook import OutlookError, outlook


def test_outlook_without_error_is_the_realised_weather_and_errors_grow_with_lead() -> None:
    rng = np.random.default_rng(0)
    rain = rng.gamma(0.3, 3.0, 3000) * (rng.random(3000) < 0.2)
    et0 = rng.uniform(0.0, 0.5, 3000)
    origins = np.arange(0, 2800, 5)
    exact = OutlookError(
        rain_sd=(0, 0, 0), miss=(0, 0, 0), false_alarm=(0, 0, 0), timing_sd_h=0, et0_sd=(0, 0, 0)
    )
    r, e = outlook(rain, et0, origins, rng, exact)
    assert np.allclose(r, rain[origins[:, None] + np.arange(72)])
    assert np.allclose(e, et0[origins[:, None] + np.arange(72)])
    r, e = outlook(rain, et0, origins, rng)
    assert (r >= 0).all() and (e >= 0).all()
    real = rain[origins[:, None] + np.arange(72)].reshape(-1, 3, 24).sum(axis=2)
    fcst = r.reshape(-1, 3, 24).sum(axis=2)
    day_error = np.abs(fcst - real).mean(axis=0)
    assert day_error[0] < day_error[2]  # day 3 is worse than day 1
    assert 0.6 < fcst.sum() / real.sum() < 1.5  # no gross bias
