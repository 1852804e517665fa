"""Latency: measure it, calibrate a per-kind predictor for this CPU, predict it, validate it.

>>> from costmodel.latency import measure_latency, calibrate, predict_latency, DeviceProfile
>>> m = measure_latency(model, (1, 3, 224, 224), threads=1)     # .total_ms, .layers.measured_ms
>>> profile = calibrate(out="profile.json", budget_s=720)        # or DeviceProfile.load(path)
>>> p = predict_latency(model, (1, 3, 224, 224), profile=profile)  # .total_ms, .layers.pred_ms

Modules: :mod:`~costmodel.latency.measure` (end-to-end and replayed per-op timing),
:mod:`~costmodel.latency.replay`, :mod:`~costmodel.latency.calibrate`,
:mod:`~costmodel.latency.fit` (NNLS, roofline, boosted trees; numpy only),
:mod:`~costmodel.latency.profile` (the JSON profile), :mod:`~costmodel.latency.predict`,
:mod:`~costmodel.latency.timings` (portable timing files), :mod:`~costmodel.latency.validate`,
:mod:`~costmodel.latency.space` (design-space and op samplers), :mod:`~costmodel.latency.machine`.
"""
from costmodel.latency.calibrate import calibrate
from costmodel.latency.measure import LatencyResult, measure_latency
from costmodel.latency.predict import LatencyPrediction, add_predicted_columns, predict_latency
from costmodel.latency.profile import DeviceProfile, ProfileError
from costmodel.latency.timings import TimingFileError

__all__ = ["measure_latency", "predict_latency", "calibrate", "DeviceProfile", "ProfileError",
           "TimingFileError", "LatencyResult", "LatencyPrediction", "add_predicted_columns"]
