"""The differential kazoo scenario of test_coord_differential.py, with a
3-member ensemble in the runnel-coord slot.

Each section runs against standalone Apache ZooKeeper 3.8 (the reference
trace, as in test_coord_differential.py) and against one member of a
3-member ensemble (runnel-coord, or Apache ZooKeeper with
RUNNEL_COORD_IMPL=zookeeper); the normalised traces must be equal. All
clients of a section talk to the same member, so a section sees what a
client of that member sees; the sections take turns on the leader and the
followers, so forwarded writes, watches fired on followers and session
handling on followers are all compared.
"""

import difflib

import pytest

import test_coord_differential as diff
from ensemble import Ensemble

pytestmark = [pytest.mark.ensemble, pytest.mark.usefixtures("ensemble_supported")]


@pytest.fixture(scope="module")
def coord_ensemble(tmp_path_factory, ensemble_supported):
    ens = Ensemble(tmp_path_factory.mktemp("ensemble-diff"), n=3)
    try:
        ens.start()
        yield ens
    finally:
        ens.close()


def _role_order(ens):
    """Members ordered leader first, then followers."""
    leader = ens.leader()
    return [leader] + [k for k in ens.ids if k != leader]


@pytest.mark.parametrize("index,section", list(enumerate(diff.SECTIONS)),
                         ids=[s.__name__[4:] for s in diff.SECTIONS])
def test_same_trace_as_zookeeper_on_ensemble(index, section, zk_server, coord_ensemble, root):
    order = _role_order(coord_ensemble)
    k = order[index % len(order)]
    member = coord_ensemble[k]
    role = "leader" if k == order[0] else "follower"
    expected = diff.run_section(section, zk_server, root)
    got = diff.run_section(section, member, root)
    if expected != got:
        delta = "\n".join(difflib.unified_diff(expected, got, "Apache ZooKeeper 3.8 (standalone)",
                                               "%s ensemble member %d (%s)" % (coord_ensemble.kind, k, role),
                                               lineterm="", n=2))
        pytest.fail("traces differ (- ZooKeeper, + ensemble member %d, %s):\n%s" % (k, role, delta),
                    pytrace=False)
    assert len(expected) > 0
