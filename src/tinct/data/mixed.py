"""A mix of datasets (``--data openmoji*2+twemoji``): one dataset over the members' samples.

The rule, exactly. With member sizes ``n_i`` and weights ``w_i`` (positive numbers), the
mix has ``N = sum(n_i)`` samples, as the plain concatenation would. Member ``i`` gets
``c_i`` of them, ``c_i`` proportional to ``w_i * n_i`` (largest remainders, so the ``c_i``
add up to ``N``): every item of a member with weight 2 is drawn twice as often as every
item of a member with weight 1. Equal weights give ``c_i = n_i``, the concatenation. The
mix's indices ``[C_i, C_i + c_i)`` (``C_i`` the sum of the earlier ``c``) belong to member
``i``, its ``k``-th slot to item ``floor(k * n_i / c_i)``: items are spread evenly, each
repeated ``floor`` or ``ceil`` of ``c_i / n_i`` times, or, when ``c_i < n_i``, every
``n_i / c_i``-th item is used. Indexing is a pure function of the sizes and weights. A
training sampler that shuffles the indices per epoch (:class:`tinct.data.sampling.EpochSampler`)
then draws the members at these rates.

Samples are the members' sample dicts with ``"source"`` added: the member's name
(``source_name`` when it has one, e.g. ``twemoji``; else from its class, ``OpenMojiDataset``
-> ``openmoji``; a repeated name gets ``#2``, ``#3``). Every sample of a mix has the same
keys, so batches collate: the keys that every member gives (found from each member's first
sample, once), plus ``"source"``. ``color`` and ``sketch`` must be among them (a member
without them is a ValueError naming it); a key only some members give (``skin_tone``,
``path``) is left out.
"""

from __future__ import annotations

from fractions import Fraction

REQUIRED_KEYS = ("color", "sketch")


def _member_name(member) -> str:
    name = getattr(member, "source_name", None)
    if isinstance(name, str) and name:
        return name
    return type(member).__name__.removesuffix("Dataset").lower() or "dataset"


def allocate(sizes: list[int], weights: list[float]) -> list[int]:
    """How many of the ``sum(sizes)`` slots each member gets (module docstring)."""
    total = sum(sizes)
    shares = [Fraction(weight) * size for weight, size in zip(weights, sizes)]
    whole = sum(shares)
    if whole == 0:
        return [0] * len(sizes)
    quotas = [share * total / whole for share in shares]
    counts = [int(quota) for quota in quotas]  # floors (quotas are >= 0)
    left = total - sum(counts)
    by_remainder = sorted(range(len(sizes)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in by_remainder[:left]:
        counts[i] += 1
    return counts


class MixedDataset:
    """Samples of several datasets at weighted rates (module docstring for the exact rule).

    members: datasets (``len`` and integer indexing, dict samples). weights: one positive
    number per member. names: what the ``"source"`` key says per member (default: the
    members' own names).
    """

    def __init__(self, members: list, weights: list[float], *, names: list[str] | None = None):
        members, weights = list(members), [float(weight) for weight in weights]
        if not members:
            raise ValueError("a mix needs at least one dataset")
        if len(weights) != len(members):
            raise ValueError(f"a mix needs one weight per dataset, got {len(weights)} for {len(members)}")
        if any(not (weight > 0 and weight != float("inf")) for weight in weights):
            raise ValueError(f"mix weights must be positive numbers, got {weights}")
        if names is None:
            names, seen = [], {}
            for member in members:
                base = _member_name(member)
                seen[base] = seen.get(base, 0) + 1
                names.append(base if seen[base] == 1 else f"{base}#{seen[base]}")
        if len(names) != len(members):
            raise ValueError(f"a mix needs one name per dataset, got {len(names)} for {len(members)}")
        self.members = members
        self.weights = weights
        self.names = list(names)
        self.sizes = [len(member) for member in members]
        self.counts = allocate(self.sizes, weights)
        self.starts = [sum(self.counts[:i]) for i in range(len(members))]
        self._keys: frozenset[str] | None = None

    def __len__(self) -> int:
        return sum(self.counts)

    def locate(self, index: int) -> tuple[int, int]:
        """``(member, item)`` that mix index ``index`` reads."""
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for a mix of {len(self)} samples")
        index %= len(self)
        for member, (start, count) in enumerate(zip(self.starts, self.counts)):
            if index < start + count:
                return member, (index - start) * self.sizes[member] // count
        raise AssertionError(index)  # unreachable: the counts add up to len(self)

    def keys(self) -> frozenset[str]:
        """The keys every sample of the mix has (module docstring)."""
        if self._keys is None:
            shared = None
            for name, member, size in zip(self.names, self.members, self.sizes):
                if size == 0:
                    continue
                given = set(member[0])
                missing = [key for key in REQUIRED_KEYS if key not in given]
                if missing:
                    raise ValueError(f"mix member {name} gives no {', '.join(missing)} (it gives "
                                     f"{', '.join(sorted(given))})")
                shared = given if shared is None else shared & given
            self._keys = frozenset(shared or ()) | {"source"}
        return self._keys

    def __getitem__(self, index: int) -> dict:
        member, item = self.locate(index)
        keys = self.keys()
        sample = self.members[member][item]
        return {**{key: value for key, value in sample.items() if key in keys}, "source": self.names[member]}
