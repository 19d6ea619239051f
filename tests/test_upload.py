"""Your data: CSV files read and refused with precise messages, your points as configs carry
them, the classic real data sets, and edits by clicks. References: scikit-learn's loaders, a
float64 gradient-descent loop written out here, and training on the equivalent built-in set."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris

from explorer.data import DATASETS, make_dataset
from explorer.training import TrainConfig, build, losses_for_data, train
from explorer.upload import (
    MAX_BYTES,
    MAX_ROWS,
    Columns,
    UploadError,
    guess_columns,
    read_table,
    to_user_data,
)
from explorer.user_data import UserData, as_user_data, data_spec, with_point, without_point
from explorer.views import landscape as views

torch.set_num_threads(1)
EXACT = 1e-12  # float64 arithmetic done the same way twice
GD_TOL = 1e-4  # float32 training against a float64 loop over 200 steps

# Each bad-file class: the bytes, and what its message must say (line and column named).
BAD_FILES = {
    "empty": (b"", "the file is empty"),
    "blank": (b"\n \n\n", "the file is empty"),
    "header only": (b"x,y\n", "names its columns (x, y) but has no rows of data"),
    "one column": (b"x\n1\n2\n", "the file has one column ('x')"),
    "binary": (b"x,y\n1,2\n\x00\x01\x02", "this is not a CSV file: line 3 holds binary bytes"),
    "spreadsheet": (b"PK\x03\x04\x14\x00rest", "this is not a CSV file"),
    "not utf-8": (b"x,y\n1,2\n3,caf\xe9\n", "line 3: byte 0xe9 is not UTF-8 text"),
    "non-numeric": (b"x,y\n1,2\n3,abc\n", "line 3, column 'y': 'abc' is not a number"),
    "decimal comma": (
        b"x;y\n1;2\n3,5;4\n",
        "line 3, column 'x': '3,5' is not a number (use a point",
    ),
    "missing": (b"x,y\n1,2\n3,\n", "line 3, column 'y': missing value"),
    "nan": (b"x,y\n1,2\nNaN,4\n", "line 3, column 'x': missing value ('NaN')"),
    "infinite": (b"x,y\n1,inf\n3,4\n", "line 2, column 'y': 'inf' is infinite"),
    "overflow": (b"x,y\n1,2\n1e999,4\n", "line 3, column 'x': '1e999' overflows to infinity"),
    "too large": (b"x,y\n1,2\n3,4e12\n", "line 3, column 'y': 4e12 is beyond"),
    "ragged": (b"x,y\n1,2\n3,4,5\n", "line 3 has 3 fields; the header has 2"),
    "numbers as header": (b"1,2\n3,4\n", "line 1 holds numbers (1, 2), not column names"),
    "unnamed column": (b"x,,y\n1,2,3\n", "line 1, column 2 has no name"),
    "repeated name": (b"x,x\n1,2\n", "column name 'x' appears twice (columns 1 and 2)"),
    "one row": (b"x,y\n1,2\n", "the file has 1 row of data; at least 2"),
    "one class": (b"x1,x2,label\n1,2,1\n3,4,1\n", "column 'label' holds one class only (1)"),
    "six classes": (
        b"x1,x2,label\n" + b"".join(b"%d,%d,%d\n" % (i, i, i) for i in range(6)),
        "column 'label' holds 6 classes (0, 1, 2, 3, 4, 5); at most 5",
    ),
    "fractional label": (
        b"x1,x2,label\n1,2,0\n3,4,1.5\n",
        "line 3, column 'label': 1.5 is not an integer class label",
    ),
    "word label": (
        b"x1,x2,label\n1,2,0\n3,4,cat\n",
        "line 3, column 'label': 'cat' is not an integer class label",
    ),
}


def load(raw: bytes, columns: Columns | None = None) -> UserData:
    table = read_table(raw)
    return to_user_data(table, columns or guess_columns(table))


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_each_bad_file_is_refused_with_its_precise_message(case):
    raw, message = BAD_FILES[case]
    with pytest.raises(UploadError) as err:
        load(raw)
    assert message in str(err.value), str(err.value)
    assert err.value.problems and all(isinstance(p, str) for p in err.value.problems)


def test_every_bad_cell_is_listed_none_silently_dropped():
    rows = b"".join(b"%d,bad\n" % i for i in range(20))
    with pytest.raises(UploadError) as err:
        load(b"x,y\n" + rows)
    assert len(err.value.problems) == 20  # one message a bad cell, each with its line
    assert [p.split(",")[0] for p in err.value.problems] == [f"line {i}" for i in range(2, 22)]
    assert "… and 14 more problems" in str(err.value)  # the message shows six, counts the rest


def test_a_file_over_the_cap_is_refused():
    with pytest.raises(UploadError, match=f"at most {MAX_BYTES}"):
        read_table(b"x,y\n" + b"1,2\n" * (MAX_BYTES // 4 + 1))


def test_too_many_rows_keeps_the_first_and_says_how_many():
    n = MAX_ROWS + 37
    raw = b"x,y\n" + b"".join(b"%d,%d\n" % (i, 2 * i) for i in range(n))
    table = read_table(raw)
    data = to_user_data(table, guess_columns(table))
    assert len(data) == MAX_ROWS and table.total_rows == n
    np.testing.assert_array_equal(data.x[:, 0], np.arange(MAX_ROWS))  # the first rows, in order
    assert f"{n} rows" in table.kept_note and "the other 37 are left out" in table.kept_note


def test_columns_are_chosen_by_name_in_any_order_and_labels_become_class_ids():
    raw = b"label,weight,a,b\n-1,9,0.5,1\n1,9,2,3\n-1,9,4,5\n"
    table = read_table(raw)
    assert guess_columns(table) == Columns("classification", ("weight", "a", "label"))
    data = to_user_data(table, Columns("classification", ("a", "b", "label")))
    np.testing.assert_array_equal(data.x, [[0.5, 1], [2, 3], [4, 5]])
    np.testing.assert_array_equal(data.y, [0, 1, 0])  # -1 → class 0, 1 → class 1
    assert data.task == "binary" and data.classes == ("-1", "1")
    three = load(b"x1,x2,label\n0,0,2\n1,1,7\n2,2,5\n")
    assert three.task == "multiclass" and three.n_classes == 3 and three.y.tolist() == [0, 2, 1]
    with pytest.raises(UploadError, match="x1 and x2 are the same column 'a'"):
        to_user_data(table, Columns("classification", ("a", "a", "label")))
    with pytest.raises(UploadError, match="there is no column 'z'"):
        to_user_data(table, Columns("regression", ("a", "z")))


def test_semicolons_tabs_a_bom_blank_lines_and_quotes_are_read():
    data = load(b'\xef\xbb\xbf"x";"y"\r\n1.5;2\r\n\r\n-3e-1;+4\r\n')
    np.testing.assert_array_equal(data.x[:, 0], [1.5, -0.3])
    np.testing.assert_array_equal(data.y, [2, 4])
    assert load(b"x\ty\n1\t2\n3\t4\n").y.tolist() == [2, 4]


def test_no_cell_is_evaluated():
    with pytest.raises(UploadError, match="is not a number"):
        load(b"x,y\n1,2\n__import__('os').getpid(),4\n")
    with pytest.raises(UploadError, match="is not a number"):
        load(b"x,y\n1,2\n1_000,4\n")  # float() would take it; a CSV number has no underscore


def csv_of(key: str, **kwargs) -> bytes:
    """A built-in data set written as the CSV a user would upload (float32 values exactly)."""
    d = make_dataset(key, **kwargs)
    x, y = d.x.double().numpy(), d.y.double().numpy()
    if d.task == "regression":
        rows = [f"{a!r},{b!r}" for a, b in zip(x[:, 0].tolist(), y.tolist(), strict=True)]
        return ("x,y\n" + "\n".join(rows)).encode()
    rows = [f"{a!r},{b!r},{int(c)}" for (a, b), c in zip(x.tolist(), y.tolist(), strict=True)]
    return ("x1,x2,label\n" + "\n".join(rows)).encode()


def thetas(config: TrainConfig) -> np.ndarray:
    return np.stack([r.theta for r in train(config)])


@pytest.mark.parametrize(
    ("key", "model", "loss"), [("line", "line", "mse"), ("blobs", "logistic", "bce_logits")]
)
def test_a_good_file_trains_exactly_as_the_same_arrays_do(key, model, loss):
    user = load(csv_of(key, n=60, seed=3, noise=0.3))
    common = dict(model=model, loss=loss, lr=0.1, steps=200, seed=3, device="cpu")
    mine = thetas(TrainConfig(dataset=user.key, user_data=user, **common))
    builtin = thetas(TrainConfig(dataset=key, n=60, noise=0.3, **common))
    np.testing.assert_array_equal(mine, builtin)


def test_a_good_file_trains_as_a_float64_gradient_descent_loop():
    """Reference: gradient descent on the mean squared error of w·x + b, written out in float64."""
    user = load(csv_of("line", n=50, seed=1, noise=0.2))
    config = TrainConfig(dataset=user.key, user_data=user, lr=0.1, steps=200, seed=1, device="cpu")
    path = thetas(config)
    x, y = torch.tensor(user.x[:, 0]), torch.tensor(user.y)
    theta = torch.tensor(path[0], requires_grad=True)  # (w, b) as the model starts
    for _ in range(200):
        loss = ((theta[0] * x + theta[1] - y) ** 2).mean()
        (grad,) = torch.autograd.grad(loss, theta)
        theta = (theta - 0.1 * grad).detach().requires_grad_(True)
    np.testing.assert_allclose(path[-1], theta.detach().numpy(), atol=GD_TOL)


def test_your_data_is_equal_and_hashed_by_content_never_by_name():
    a = load(b"x,y\n1,2\n3,4\n")
    b = UserData("another name", "regression", [[1.0], [3.0]], [2.0, 4.0])
    c = UserData("another name", "regression", [[1.0], [3.0]], [2.0, 4.5])
    assert a == b and hash(a) == hash(b) and a.key == b.key and a.key.startswith("yours:")
    assert a != c and a.key != c.key
    assert not a.x.flags.writeable and not a.y.flags.writeable
    same = views.ViewConfig(dataset=a.key, user_data=a)
    assert hash(same) == hash(views.ViewConfig(dataset=b.key, user_data=b))  # one cache entry
    assert same != views.ViewConfig(dataset=c.key, user_data=c)


def test_a_config_without_its_points_says_a_link_does_not_carry_them():
    user = load(b"x,y\n1,2\n3,4\n")
    with pytest.raises(ValueError, match="a link does not carry them"):
        TrainConfig(dataset=user.key).validate()
    assert data_spec(user.key, user).size == 2
    assert losses_for_data(user.spec) == losses_for_data("line")


def test_the_landscape_of_your_file_is_the_landscape_of_the_same_arrays():
    user = load(csv_of("line", n=40, seed=2))
    common = dict(points=9, train_steps=20, seed=2, device="cpu", n=40)
    mine = views.landscape_view(views.ViewConfig(dataset=user.key, user_data=user, **common))
    builtin = views.landscape_view(views.ViewConfig(dataset="line", **common))
    a, b = mine.panels[0].surface, builtin.panels[0].surface
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.alpha, b.alpha)


def standardized(a: np.ndarray) -> np.ndarray:
    return (a - a.mean(0)) / a.std(0)


@pytest.mark.parametrize("key", ["iris", "cancer", "diabetes"])
def test_classic_data_sets_are_scikit_learns_standardized(key):
    if key == "iris":
        raw = load_iris()
        x, y = raw.data[:, 2:4], raw.target
    elif key == "cancer":
        raw = load_breast_cancer()
        x, y = raw.data[:, :2], raw.target
    else:
        raw = load_diabetes(scaled=False)
        x, y = raw.data[:, 2:3], standardized(raw.target)
    d = make_dataset(key, n=8, noise=3.0)  # n and noise do not apply to real data
    assert len(d) == DATASETS[key].size == len(x)
    np.testing.assert_allclose(d.x.double().numpy(), standardized(x), atol=1e-6)
    np.testing.assert_allclose(d.y.double().numpy(), y, atol=1e-6)
    assert DATASETS[key].n_classes == (1 if key == "diabetes" else len(np.unique(y)))


def test_adding_and_removing_points():
    blobs = as_user_data(make_dataset("blobs", n=20, seed=0))
    more = with_point(blobs, (5.0, -5.0), 1)
    assert len(more) == 21 and more.x[-1].tolist() == [5.0, -5.0] and more.y[-1] == 1
    assert more.name == "your data (edited)" and more != blobs
    third = with_point(blobs, (0.0, 0.0), 2)  # a new class: binary becomes multiclass
    assert third.task == "multiclass" and third.n_classes == 3
    with pytest.raises(ValueError, match="class 3 is not 0..2"):
        with_point(blobs, (0.0, 0.0), 3)
    fewer = without_point(more, 0)
    np.testing.assert_array_equal(fewer.x, more.x[1:])
    back = without_point(third, 20)  # the only point of class 2 goes: binary again
    assert back.task == "binary" and back == blobs
    line = as_user_data(make_dataset("line", n=8))
    assert with_point(line, (0.5, 7.0)).y[-1] == 7.0
    two = UserData("t", "binary", [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]], [0, 1, 1])
    with pytest.raises(ValueError, match="the last point of class 0"):
        without_point(two, 0)
    with pytest.raises(ValueError, match="there is no point 3"):
        without_point(two, 3)
    assert len(without_point(without_point(line, 0), 0)) == 6
    with pytest.raises(ValueError, match="2 to 5000 points"):
        without_point(UserData("t", "regression", [[0.0], [1.0]], [0.0, 1.0]), 0)


def test_an_edited_set_trains():
    data = with_point(as_user_data(make_dataset("moons", n=30)), (0.0, 2.0), 0)
    problem = build(TrainConfig(dataset=data.key, user_data=data, model="logistic", loss="hinge"))
    assert len(problem.dataset) == 31 and problem.dataset.task == "binary"
    assert problem.dataset.y.dtype == torch.float32
