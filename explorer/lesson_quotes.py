"""The seeds' code quoted verbatim (pieces of each article's text), for the Lessons page.

Each quote is a tuple of excerpts, each copied character for character from the seed;
`quote(key)` joins them with a "# …" line. The tests check every piece against the seed files
when they are present (../shared/seeds).
"""

SEED_TITLES = {
    "000": "Does a custom loss function prevent PyTorch backpropagation?",
    "001": "How is custom loss function backpropagation implemented?",
    "002": "How can custom PyTorch loss functions be implemented with calculations outside the computational graph?",
    "003": "How are custom loss gradients calculated?",
}

SEED_FILES = {
    "000": "000_2211061ed57d595e.txt",
    "001": "001_6732c823a21c2f12.txt",
    "002": "002_e66720e285123e68.txt",
    "003": "003_7646bc2b7880b340.txt",
}

_WEIGHTED_MSE = """\
class WeightedMSE(nn.Module):
    def __init__(self, weights):
        super(WeightedMSE, self).__init__()
        self.weights = torch.tensor(weights, requires_grad=False) # ensure weights are not updated

    def forward(self, y_pred, y_true):
        loss = torch.mean(self.weights * (y_pred - y_true)**2)
        return loss

# Sample data and model
X = torch.randn(10, 1)
y = torch.randn(10, 1)
model = nn.Linear(1, 1)
"""

_WEIGHTED_CE = """\
class WeightedCrossEntropyLoss(torch.nn.Module):
    def __init__(self, weights):
        super(WeightedCrossEntropyLoss, self).__init__()
        self.weights = torch.tensor(weights, dtype=torch.float32) # Weights are pre-computed

    def forward(self, inputs, targets):
        with torch.no_grad():
            weighted_targets = self.weights[targets] # Weights are accessed outside the graph
        loss = F.cross_entropy(inputs, targets, weight=weighted_targets) # But integrated into the loss
        return loss
"""

_WEIGHTED_CE_USAGE = """\
weights = [0.1, 0.9, 0.5] # Example class weights
criterion = WeightedCrossEntropyLoss(weights)
inputs = torch.randn(10, 3)
targets = torch.randint(0, 3, (10,))
loss = criterion(inputs, targets)
"""

_SPECTRAL_FUNCTION = """\
class SpectralNormalizationFunction(autograd.Function):

    @staticmethod
    def forward(ctx, matrix, exponent):
        powered_matrix = matrix_power(matrix, exponent)
        ctx.save_for_backward(matrix)
        ctx.exponent = exponent
        return powered_matrix

    @staticmethod
    def backward(ctx, grad_output):
        matrix, = ctx.saved_tensors
        exponent = ctx.exponent
        # Gradient calculation for matrix power using approximation. Note: Requires further complex computation.
        # This part below is simplified, in real cases, it will require analytical solution
        grad_matrix = grad_output * (exponent * matrix_power(matrix, exponent-1))
        return grad_matrix, None
"""

_CUSTOM_LOSS = """\
class CustomLoss(nn.Module):
  def __init__(self):
    super().__init__()

  def forward(self, prediction, target):
      matrix = torch.randn(3,3)
      exponent = 2
      powered_matrix = SpectralNormalizationFunction.apply(matrix,exponent)
      loss_val =  torch.mean((prediction - target) * powered_matrix[0,0])
      return loss_val
"""

_HARD_THRESHOLD_TEXT = """\
A naive implementation involving a hard threshold might use `if` statements, which are incompatible with Autograd. This is because conditional branches can introduce discontinuities, which may not be easily differentiable.
"""

_THRESHOLDED_LOSS = """\
class ThresholdedLoss(nn.Module):
    def __init__(self, threshold):
      super().__init__()
      self.threshold = threshold

    def forward(self, prediction, target):
      absolute_diff = torch.abs(prediction - target)
      # Use a differentiable approximation of the step function
      cut_off_mask = torch.sigmoid(20*(self.threshold - absolute_diff))
      return torch.mean(cut_off_mask * (prediction - target)**2)
"""

_SOFT_THRESHOLD_TEXT = """\
Note that the gradient behavior becomes more like the hard threshold with an increase in the multiplier of 20 within the sigmoid.
"""

_DETACH_TEXT = """\
However, if a calculation uses tensors that are detached from this graph – for instance, via `.detach()` – the subsequent gradient calculations for those tensors become unavailable.
"""

_PRECOMPUTED_TEXT = """\
attempts to incorporate pre-computed statistics outside the graph resulted in vanishing gradients and non-convergent training.
"""

_PROXY_INIT = """\
class ProxyLoss(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.l1_loss = torch.nn.L1Loss() # Smooth approximation for non-differentiable parts
"""

_PROXY_FORWARD = """\
      loss = self.l1_loss(input, target) + 0.5 * torch.abs(input - external_result) #penalty to encourage similarity

      return loss
"""

_PROXY_USAGE = """\
loss = proxy_loss(inputs, targets)
loss.backward() #Gradients propagated, though approximate
"""

# lesson key -> (seed id, excerpts)
QUOTES: dict[str, tuple[str, tuple[str, ...]]] = {
    "weighted_mse_broadcast": ("003", (_WEIGHTED_MSE,)),
    "weighted_ce_per_sample": (
        "002",
        (
            _WEIGHTED_CE,
            _WEIGHTED_CE_USAGE,
        ),
    ),
    "matrix_power_backward": ("000", (_SPECTRAL_FUNCTION,)),
    "custom_loss_unbounded": ("000", (_CUSTOM_LOSS,)),
    "backward_never_called": ("000", (_CUSTOM_LOSS,)),
    "random_inside_loss": ("000", (_CUSTOM_LOSS,)),
    "hard_threshold": (
        "000",
        (
            _HARD_THRESHOLD_TEXT,
            _THRESHOLDED_LOSS,
        ),
    ),
    "soft_threshold_outward": (
        "000",
        (
            _THRESHOLDED_LOSS,
            _SOFT_THRESHOLD_TEXT,
        ),
    ),
    "detach_no_grad": (
        "002",
        (
            _DETACH_TEXT,
            _PRECOMPUTED_TEXT,
        ),
    ),
    "proxy_non_scalar": (
        "002",
        (
            _PROXY_INIT,
            _PROXY_FORWARD,
            _PROXY_USAGE,
        ),
    ),
}


def quote(key: str) -> str:
    """The quoted excerpts of a lesson's seed, joined by a "# …" line."""
    return "\n# …\n".join(piece.rstrip("\n") for piece in QUOTES[key][1])
