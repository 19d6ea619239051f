"""Gradients of losses, checked: `curves` draws a loss's 1-D curve L(x) with dL/dx by autograd
beside float64 central differences; `jumps` finds where a gradient or a value changes abruptly
(kinks, steps, poles); `shift` gives a formula that mixes samples its 1-D view L(r + s);
`gradcheck` checks custom autograd Functions against numerical Jacobians.
"""
