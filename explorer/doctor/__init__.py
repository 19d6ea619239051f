"""The gradient doctor: findings about a loss, each with what was seen (numbers), why it matters
and a fix.

`sweep` examines a catalogue or formula loss along its 1-D axis (`diagnose_loss`); `callables`
examines any Python loss callable and custom autograd Functions (`diagnose_callable`,
`diagnose_function`); `findings` holds the catalogue of findings (`Finding`).
"""

from explorer.doctor.callables import diagnose_callable
from explorer.doctor.findings import Finding, by_severity, finding
from explorer.doctor.functions import diagnose_function
from explorer.doctor.sweep import diagnose_loss

__all__ = [
    "Finding",
    "by_severity",
    "diagnose_callable",
    "diagnose_function",
    "diagnose_loss",
    "finding",
]
