"""The theory of vanishing and exploding gradients, measured: products of step Jacobians.

Pure NumPy, no TensorFlow. The input is the step Jacobians
J_t = d s_t / d s_{t-1} of the probed layer along the trajectories of a few
probe examples (``jac``: shape ``(E, T, P, P)``, step t = 0 .. T-1; see
:class:`suite.health.dynamics.TrajectoryProbe`). The gradient that reaches
step k from the last step T-1 is dL/ds_k = dL/ds_{T-1} J_{T-1} ... J_{k+1},
a product of ``d = T-1-k`` Jacobians (the distance of the temporal profile).
For every distance d = 0 .. T-1 (d = 0: no Jacobian, everything is 1) this
module measures

* the **product bound** prod_{t=T-d}^{T-1} sigma_max(J_t): the bound that
  the textbook argument uses (Pascanu et al. 2013). It multiplies the
  per-step maxima, each over its own direction, so it is an upper bound of
* the **product norm** ||J_{T-1} ... J_{T-d}||_2, the largest factor by
  which any gradient arriving at the last step can grow or shrink on its way
  back over d steps (the largest singular value of the product);
* the **largest Lyapunov exponent** lambda_1: the asymptotic growth rate per
  step of a generic vector under the product, by QR re-orthonormalisation
  along the trajectory (Engelken, Wolf & Abbott 2020; Vogt et al. 2022): k
  orthonormal directions Q_0 (random, seeded) are pushed forward,
  J_t Q_{t-1} = Q_t R_t, and lambda_i = mean over t of ln |R_t[i, i]|, over
  the Jacobians J_1 .. J_{T-1} that the gradient crosses. exp(lambda_1 d) is
  the growth of a gradient over d steps once it is aligned with the most
  expanding direction; the product norm tends to it as d grows.

All three are averaged over the examples in log space (the mean of the
natural logarithms, i.e. the log of the geometric mean), and the two
products are returned as natural logarithms, so that neither overflows nor
underflows for long sequences (a product that is exactly 0, e.g. through dead
relu units, gives -inf). Products are renormalised at every step. Everything is
float64 except, in the probe, the products of the step Jacobians, which are float32
like the Jacobians themselves (see :func:`log_product_norm`).
"""
from __future__ import annotations

import contextlib
import ctypes
import glob
import os
from typing import Any, Iterator

import numpy as np

#: Directions followed by the QR re-orthonormalisation (at most the state size).
LYAPUNOV_DIRECTIONS = 4


def _openblas_threads() -> tuple[Any, Any] | None:
    """``(get, set)`` of the thread count of the OpenBLAS in NumPy's wheel, or None."""
    for path in glob.glob(os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs",
                                       "*openblas*")):
        with contextlib.suppress(OSError):
            lib = ctypes.CDLL(path)
            for suffix in ("64_", ""):
                get = getattr(lib, f"scipy_openblas_get_num_threads{suffix}", None)
                put = getattr(lib, f"scipy_openblas_set_num_threads{suffix}", None)
                if get is not None and put is not None:
                    return get, put
    return None


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """One OpenBLAS thread inside (best effort; nothing where NumPy has another BLAS).

    The products here are many small (256 x 256) matrix products: OpenBLAS' threads
    barely speed them up, and on a machine whose cores are busy they slowed the
    probe 3 to 10 times in our measurements (threads waiting for each other).
    """
    found = _openblas_threads()
    before = found[0]() if found else None
    if found:
        found[1](1)
    try:
        yield
    finally:
        if found:
            found[1](before)


def _stack(jac, dtype=None) -> np.ndarray:
    """``jac`` as a C-contiguous array (matmul on strided stacks is slow), shape checked."""
    jac = np.ascontiguousarray(jac, dtype=dtype)
    if jac.ndim != 4 or jac.shape[2] != jac.shape[3]:
        raise ValueError(f"step Jacobians must have shape (E, T, P, P), got {jac.shape}")
    return jac


def log_product_bound(sigma) -> np.ndarray:
    """ln prod sigma_max(J_t) over the last d steps, for d = 0 .. T-1, mean over examples.

    Args:
        sigma: Largest singular value of every step Jacobian, shape ``(E, T)``.

    Returns:
        Shape ``(T,)``: entry d is the mean over examples of sum_{t=T-d}^{T-1} ln sigma_t
        (entry 0 is 0).
    """
    sigma = np.asarray(sigma, dtype=np.float64)
    with np.errstate(divide="ignore"):
        logs = np.log(sigma[:, :0:-1])            # steps T-1, T-2, ..., 1
    return np.concatenate([[0.0], np.cumsum(logs, axis=1).mean(axis=0)])


def norm_distances(steps: int, dense: int = 8, spaced: int = 16) -> np.ndarray:
    """The distances at which the probe takes the product norm (``sigma_max`` of a
    256 x 256 product costs four times the product): every d <= ``dense`` (default 8),
    then ``spaced`` (default 16) geometrically spaced ones up to T-1, always T-1."""
    far = np.geomspace(dense, max(steps - 1, dense), spaced).round().astype(int)
    return np.unique(np.concatenate([np.arange(1, dense + 1), far, [steps - 1]]).clip(1, steps - 1))


def _spectral_norm(m: np.ndarray) -> np.ndarray:
    """Largest singular value of each matrix of a stack ``(E, P, P)``."""
    gram = np.matmul(m, np.swapaxes(m, 1, 2))
    return np.sqrt(np.maximum(np.linalg.eigvalsh(gram)[:, -1], 0.0))


#: Entries below this are set to 0, per dtype, in every Jacobian divided by its largest
#: entry and in every product renormalised to largest entry or singular value 1 (so that
#: the product of two kept entries is a normal float). Subnormal floats, which products
#: of decaying Jacobians produce, make every later product ~100x slower; what is dropped
#: is far below the precision of the entries of size 1.
FLUSH_BELOW = {"float64": 1e-150, "float32": 1e-19}


def _normalised(jac, dtype) -> tuple[np.ndarray, np.ndarray]:
    """``(J_t / max|J_t| flushed, in dtype; ln max|J_t| (E, T), -inf for a zero J_t)``."""
    jac = _stack(jac, dtype)
    scale = np.abs(jac).max(axis=(2, 3)).astype(np.float64)
    jac = jac / np.where(scale > 0, scale, 1.0)[..., None, None].astype(dtype)
    jac[np.abs(jac) < FLUSH_BELOW[np.dtype(dtype).name]] = 0.0
    with np.errstate(divide="ignore"):
        return jac, np.log(scale)


def log_product_norm(jac, distances=None, dtype=np.float64) -> np.ndarray:
    """ln ||J_{T-1} ... J_{T-d}||_2 for d = 0 .. T-1, mean over examples.

    Args:
        jac: Step Jacobians, shape ``(E, T, P, P)``.
        distances: The distances d >= 1 at which to take the norm (default None: all);
            the others are NaN. The products are formed at every step either way.
        dtype: Of the products (default float64; the probe uses float32, as precise as
            its float32 Jacobians and half the time: the logarithms of the scales are
            accumulated in float64 either way).

    Returns:
        Shape ``(T,)``; entry 0 is 0 (the identity), -inf where a product is exactly 0.
    """
    jac, log_scale_of = _normalised(jac, dtype)
    examples, steps, size, _ = jac.shape
    wanted = np.zeros(steps, bool)
    wanted[np.arange(1, steps) if distances is None else np.asarray(distances, int)] = True
    product = np.broadcast_to(np.eye(size, dtype=dtype), (examples, size, size)).copy()
    log_scale = np.zeros(examples)
    out = np.full((examples, steps), np.nan)
    out[:, 0] = 0.0
    for d in range(1, steps):
        product = np.matmul(product, jac[:, steps - d])
        log_scale = log_scale + log_scale_of[:, steps - d]
        # between wanted distances the largest entry carries the scale (any norm would do)
        norm = (_spectral_norm(product) if wanted[d] else np.abs(product).max(axis=(1, 2))
                ).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            if wanted[d]:
                out[:, d] = log_scale + np.log(norm)
            live = (norm > 0) & np.isfinite(log_scale)
            log_scale = np.where(live, log_scale + np.log(np.where(live, norm, 1.0)), -np.inf)
        product[live] /= norm[live, None, None].astype(dtype)
        product[~live] = 0.0
        product[np.abs(product) < FLUSH_BELOW[np.dtype(dtype).name]] = 0.0
    return out.mean(axis=0)


def lyapunov_spectrum(jac, directions: int = LYAPUNOV_DIRECTIONS, seed: int = 0) -> np.ndarray:
    """The largest Lyapunov exponents per example, by QR re-orthonormalisation.

    Args:
        jac: Step Jacobians, shape ``(E, T, P, P)``; J_1 .. J_{T-1} are used (T >= 2).
        directions: How many exponents (default :data:`LYAPUNOV_DIRECTIONS`, at most P).
        seed: Seed of the random orthonormal start Q_0 (default 0; the same for every example).

    Returns:
        Shape ``(E, k)``: lambda_1 >= ... in order of the directions, per step, natural log.
    """
    jac = _stack(jac)
    examples, steps, size, _ = jac.shape
    if steps < 2:
        raise ValueError("the Lyapunov exponents need at least two steps")
    k = min(directions, size)
    start = np.linalg.qr(np.random.default_rng(seed).standard_normal((size, k)))[0]
    q = np.broadcast_to(start, (examples, size, k)).copy()
    total = np.zeros((examples, k))
    for t in range(1, steps):
        q, r = np.linalg.qr(np.matmul(jac[:, t].astype(np.float64), q))
        with np.errstate(divide="ignore"):
            total += np.log(np.abs(np.diagonal(r, axis1=1, axis2=2)))
    return total / (steps - 1)


def product_numbers(jac, sigma, distances=None, dtype=np.float64) -> dict[str, Any]:
    """The probe-record fields of this module for one trajectory probe.

    Args:
        jac: Step Jacobians ``(E, T, P, P)`` (any float dtype).
        sigma: Their largest singular values ``(E, T)``.
        distances: Where to take the product norm (default None: every distance;
            the probe passes :func:`norm_distances`).
        dtype: Of the Jacobian products (default float64; the probe passes float32).

    Returns:
        ``lyapunov_1`` (mean over examples of lambda_1, per step, natural log),
        ``lyapunov_spectrum`` (the first :data:`LYAPUNOV_DIRECTIONS` exponents, mean
        over examples), ``product_bound`` and ``product_norm`` (natural logs by distance
        d = 0 .. T-1, mean over examples; ``product_norm`` is NaN at the distances not
        computed, -inf where a product is 0), all plain floats.
    """
    jac = _stack(jac, dtype)  # one contiguous copy for both
    with single_threaded_blas():
        spectrum = lyapunov_spectrum(jac).mean(axis=0)
        norm = log_product_norm(jac, distances, dtype)
    return {"lyapunov_1": float(spectrum[0]),
            "lyapunov_spectrum": [float(v) for v in spectrum],
            "product_bound": [float(v) for v in log_product_bound(sigma)],
            "product_norm": [float(v) for v in norm]}
