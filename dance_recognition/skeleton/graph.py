"""The spatial graph of ST-GCN (Yan et al. 2018, arXiv 1801.07455, section 3.3 and 3.6).

For any layout, builds the stacked normalised adjacency ``A`` of shape (K, V, V) used by the
graph convolution ``out[w] = sum_k sum_v x[v] A[k, v, w]``:

- ``uniform``: K = 1, every neighbour (and the joint itself) in one subset;
- ``distance``: one subset per hop distance 0..max_hop;
- ``spatial``: three subsets for max_hop = 1, in the reference's order: the root alone (hop 0);
  then, for the bones, neighbours j at the same distance from the centre joint as i or farther
  (the reference's ``a_root + a_close``); then neighbours nearer the centre (``a_further``).

Each subset is normalised as in the reference: A_k = B_k D^-1, where D is the diagonal of the
column sums of the full neighbourhood (A @ D^-1 in the reference's notation), so a checkpoint
trained by the reference sees exactly the adjacency it was trained with.
"""
from __future__ import annotations

import numpy as np

from dance_recognition.skeleton.layouts import Layout, get_layout

STRATEGIES = ("uniform", "distance", "spatial")


def hop_distance(num_joints: int, edges: tuple[tuple[int, int], ...], max_hop: int = 1) -> np.ndarray:
    """(V, V) hop counts up to max_hop; np.inf beyond it or where unreachable."""
    adjacency = np.eye(num_joints, dtype=bool)
    for a, b in edges:
        adjacency[a, b] = adjacency[b, a] = True
    distance = np.full((num_joints, num_joints), np.inf)
    reach = np.eye(num_joints, dtype=bool)
    distance[reach] = 0
    step = adjacency.astype(np.int64)
    for hop in range(1, max_hop + 1):
        reach_next = (reach.astype(np.int64) @ step) > 0
        distance[reach_next & np.isinf(distance)] = hop
        reach = reach_next
    return distance


def _normalise_columns(adjacency: np.ndarray) -> np.ndarray:
    column_sums = adjacency.sum(axis=0)
    inverse = np.zeros_like(column_sums)
    inverse[column_sums > 0] = 1.0 / column_sums[column_sums > 0]
    return adjacency * inverse[None, :]


def adjacency(
    layout: Layout | str, strategy: str = "spatial", max_hop: int = 1, dilation: int = 1
) -> np.ndarray:
    """The (K, V, V) float32 adjacency stack of ``layout`` under ``strategy``."""
    layout = get_layout(layout)
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown partition strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    hops = hop_distance(layout.num_joints, layout.edges, max_hop)
    valid_hops = range(0, max_hop + 1, dilation)
    neighbourhood = np.zeros(hops.shape)
    for hop in valid_hops:
        neighbourhood[hops == hop] = 1.0
    normalised = _normalise_columns(neighbourhood)

    if strategy == "uniform":
        stack = [normalised]
    elif strategy == "distance":
        stack = [np.where(hops == hop, normalised, 0.0) for hop in valid_hops]
    else:
        # Distances to the centre come from the same max_hop-limited hop matrix, as in the
        # reference: joints farther than max_hop from the centre are all "inf" away, so a bone
        # between two of them lands in the root subset. Reproduced on purpose: published
        # checkpoints were trained with exactly this partition.
        to_centre = hops[:, layout.center]
        same = to_centre[:, None] == to_centre[None, :]  # [j, i]: j as far from the centre as i
        farther = to_centre[:, None] > to_centre[None, :]
        stack = []
        for hop in valid_hops:
            in_hop = hops == hop
            root = np.where(in_hop & same, normalised, 0.0)
            outward = np.where(in_hop & ~same & farther, normalised, 0.0)
            inward = np.where(in_hop & ~same & ~farther, normalised, 0.0)
            if hop == 0:
                stack.append(root)
            else:
                stack.append(root + outward)
                stack.append(inward)
    return np.stack(stack).astype(np.float32)
