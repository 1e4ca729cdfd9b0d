"""Featurizing from a Dask pipeline over several soapd replicas.

>>> import dask.bag as db, soapd.dask
>>> features = soapd.dask.features(db.from_sequence(structures, npartitions=8), descriptor, urls)

Each partition is featurized by the Dask worker holding it, through a
:class:`soapd.Client` of every replica (batches spread over them, a dead replica's
batches retried on another); the partitions' results are joined in the bag's order,
with structure indices counted over the whole bag, as one request to one replica gives.
"""
from __future__ import annotations

from typing import Any, List, Mapping, Sequence, Tuple

from ._deps import require
from ._features import Features

__all__ = ["features"]


def _partition(items: Sequence[Any], descriptor: Mapping[str, Any], urls: Sequence[str], per: str,
               gradients: bool, token: Any) -> List[Tuple[int, Any]]:
    from .client import Client

    items = list(items)
    if not items:
        return [(0, None)]
    with Client(list(urls), token=token) as client:
        return [(len(items), client.features(items, descriptor, per=per, gradients=gradients))]


def features(bag_or_list: Any, descriptor: Mapping[str, Any], urls: Sequence[str], *, per: str = "atom",
             gradients: bool = False, token: Any = None, npartitions: Any = None, scheduler: Any = None) -> Features:
    """Featurize a ``dask.bag.Bag`` (or a list, made into one of ``npartitions``, by default two
    per replica) of structures on the replicas at ``urls``; computed on the current Dask
    scheduler (a ``dask.distributed.Client`` if one is active) unless ``scheduler`` is given."""
    bag_module = require("dask.bag", "soapd.dask.features()", "dask[distributed]", extra="dask")
    if isinstance(urls, str):
        urls = [urls]
    bag = bag_or_list
    if not isinstance(bag, bag_module.Bag):
        items = list(bag_or_list)
        bag = bag_module.from_sequence(items, npartitions=npartitions or max(1, min(len(items), 2 * len(urls))))
    parts = bag.map_partitions(_partition, dict(descriptor), list(urls), per, bool(gradients), token)
    computed = parts.compute(scheduler=scheduler) if scheduler is not None else parts.compute()
    pieces, offsets, offset = [], [], 0
    for count, result in computed:
        if result is not None:
            pieces.append(result)
            offsets.append(offset)
        offset += count
    if not pieces:
        raise ValueError("no structures to featurize")
    return Features.concatenate(pieces, offsets)
