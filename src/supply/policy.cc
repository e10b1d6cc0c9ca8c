#include "supply/policy.h"

#include <utility>

#include "common/strings.h"

namespace rampart::supply {
namespace {

constexpr std::string_view kExec = "process execution";
constexpr std::string_view kEval = "code evaluation or arbitrary import";
constexpr std::string_view kNested = "nested deserialization";
constexpr std::string_view kNetwork = "network access";
constexpr std::string_view kFiles = "file-system access";
constexpr std::string_view kNative = "native code or memory access";
constexpr std::string_view kReflect = "reflection or attribute traversal";
constexpr std::string_view kDunder = "attribute traversal through a dunder attribute";

bool IsDunder(std::string_view part) {
  return part.size() > 4 && part.substr(0, 2) == "__" && part.substr(part.size() - 2) == "__";
}

}  // namespace

std::string_view CanonicalModule(std::string_view module) {
  // CPython's _compat_pickle.IMPORT_MAPPING, for the modules that matter to the policy.
  static const std::pair<std::string_view, std::string_view> kMap[] = {
      {"__builtin__", "builtins"}, {"exceptions", "builtins"},  {"copy_reg", "copyreg"},
      {"cPickle", "pickle"},       {"commands", "subprocess"},  {"urllib2", "urllib.request"},
      {"httplib", "http.client"},  {"UserDict", "collections"}, {"SocketServer", "socketserver"},
      {"StringIO", "io"},          {"cStringIO", "io"},         {"thread", "_thread"},
      {"Queue", "queue"},          {"_winreg", "winreg"},
  };
  for (const auto& [from, to] : kMap) {
    if (module == from) return to;
  }
  return module;
}

void ImportPolicy::Deny(std::string prefix, Severity severity, std::string_view reason,
                        bool nested_deserializer) {
  deny_[std::move(prefix)] = DenyEntry{severity, reason, nested_deserializer};
}

ImportPolicy ImportPolicy::Default() {
  ImportPolicy p;
  // PyTorch: what torch.load(weights_only=True) accepts (torch/_weights_only_unpickler.py).
  for (std::string_view n : {"collections.OrderedDict",
                             "collections.Counter",
                             "torch.nn.parameter.Parameter",
                             "torch.serialization._get_layout",
                             "torch.Size",
                             "torch.Tensor",
                             "torch.device",
                             "_codecs.encode",
                             "builtins.bytearray",
                             "builtins.set",
                             "builtins.complex",
                             "torch._utils._rebuild_tensor",
                             "torch._utils._rebuild_tensor_v2",
                             "torch._utils._rebuild_tensor_v3",
                             "torch._utils._rebuild_parameter",
                             "torch._utils._rebuild_parameter_with_state",
                             "torch._utils._rebuild_qtensor",
                             "torch._utils._rebuild_sparse_tensor",
                             "torch._utils._rebuild_meta_tensor_no_storage",
                             "torch._utils._rebuild_nested_tensor",
                             "torch._utils._rebuild_wrapper_subclass",
                             "torch._tensor._rebuild_from_type_v2",
                             "torch.UntypedStorage",
                             "torch.per_tensor_affine",
                             "torch.per_channel_affine",
                             "torch.per_tensor_symmetric",
                             "torch.per_channel_symmetric",
                             "torch.per_channel_affine_float_qparams"}) {
    p.Allow(std::string(n));
  }
  for (std::string_view t :
       {"Double", "Float", "Half", "Long", "Int", "Short", "Char", "Byte", "Bool", "BFloat16",
        "ComplexDouble", "ComplexFloat", "QUInt8", "QInt8", "QInt32", "QUInt4x2", "QUInt2x4"}) {
    p.Allow(StrCat("torch.", t, "Storage"));
    if (t.substr(0, 1) != "Q" && t.substr(0, 7) != "Complex") {
      p.Allow(StrCat("torch.", t, "Tensor"));
      p.Allow(StrCat("torch.cuda.", t, "Tensor"));
    }
  }
  for (std::string_view d :
       {"float32",     "float",           "float64",        "double", "float16",   "half",
        "bfloat16",    "uint8",           "int8",           "int16",  "short",     "int32",
        "int",         "int64",           "long",           "bool",   "complex32", "complex64",
        "cfloat",      "complex128",      "cdouble",        "quint8", "qint8",     "qint32",
        "quint4x2",    "quint2x4",        "uint16",         "uint32", "uint64",    "float8_e4m3fn",
        "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz"}) {
    p.Allow(StrCat("torch.", d));
  }
  // NumPy arrays and scalars (numpy/core was renamed numpy/_core in NumPy 2).
  for (std::string_view n : {"numpy.ndarray", "numpy.dtype", "numpy.core.multiarray._reconstruct",
                             "numpy.core.multiarray.scalar", "numpy._core.multiarray._reconstruct",
                             "numpy._core.multiarray.scalar"}) {
    p.Allow(std::string(n));
  }

  const Severity C = Severity::kCritical, H = Severity::kHigh;
  for (std::string_view m : {"os", "posix", "nt", "subprocess", "pty", "_posixsubprocess", "popen2",
                             "multiprocessing", "pydoc", "asyncio.subprocess"}) {
    p.Deny(std::string(m), C, kExec);
  }
  for (std::string_view n : {"builtins.eval",
                             "builtins.exec",
                             "builtins.compile",
                             "builtins.__import__",
                             "builtins.getattr",
                             "builtins.setattr",
                             "builtins.delattr",
                             "builtins.open",
                             "builtins.execfile",
                             "builtins.input",
                             "builtins.breakpoint",
                             "builtins.globals",
                             "builtins.locals",
                             "builtins.vars",
                             "builtins.__builtins__",
                             "runpy",
                             "importlib",
                             "imp",
                             "code",
                             "codeop",
                             "timeit",
                             "pdb",
                             "types.FunctionType",
                             "types.CodeType",
                             "types.LambdaType",
                             "types.MethodType",
                             "torch.jit",
                             "torch._C._jit"}) {
    p.Deny(std::string(n), C, kEval);
  }
  for (std::string_view n :
       {"pickle", "_pickle", "dill", "cloudpickle", "torch.storage._load_from_bytes", "torch.load",
        "torch.serialization.load", "torch.serialization._load", "joblib.load", "numpy.load",
        "numpy.loads", "numpy.lib.npyio.load", "jsonpickle", "pandas.read_pickle", "shelve"}) {
    p.Deny(std::string(n), C, kNested, /*nested_deserializer=*/true);
  }
  p.Deny("marshal", H, kNested);
  for (std::string_view m :
       {"socket", "_socket", "urllib", "urllib3", "http", "requests", "webbrowser", "ftplib",
        "smtplib", "telnetlib", "ssl", "xmlrpc", "socketserver", "asyncio", "torch.hub", "httpx",
        "aiohttp", "paramiko"}) {
    p.Deny(std::string(m), H, kNetwork);
  }
  for (std::string_view m : {"shutil", "tempfile", "io.open", "io.FileIO", "io.open_code", "_io",
                             "pathlib", "tarfile", "zipfile", "fileinput", "glob", "sqlite3"}) {
    p.Deny(std::string(m), H, kFiles);
  }
  for (std::string_view m : {"ctypes", "_ctypes", "cffi", "mmap", "signal", "resource"}) {
    p.Deny(std::string(m), H, kNative);
  }
  for (std::string_view n :
       {"sys", "builtins.type", "builtins.object", "builtins.super", "builtins.classmethod",
        "builtins.staticmethod", "builtins.property", "operator.attrgetter",
        "operator.methodcaller", "operator.itemgetter", "functools.partial", "functools.reduce",
        "inspect", "gc", "copyreg", "_operator", "_functools", "weakref"}) {
    p.Deny(std::string(n), H, kReflect);
  }
  return p;
}

ImportClass ImportPolicy::Classify(std::string_view module, std::string_view name) const {
  ImportClass out;
  std::string_view canon_module = CanonicalModule(module);
  out.canonical = StrCat(canon_module, ".", name);
  if (allow_.count(out.canonical) != 0) {
    out.verdict = ImportVerdict::kAllowed;
    out.severity = Severity::kInfo;
    return out;
  }
  // Every dotted prefix of module.name, longest first; the most severe entry wins.
  bool denied = false;
  std::string_view full = out.canonical;
  while (!full.empty()) {
    auto it = deny_.find(std::string(full));
    if (it != deny_.end()) {
      if (!denied || it->second.severity > out.severity) {
        out.severity = it->second.severity;
        out.reason = it->second.reason;
      }
      out.nested_deserializer |= it->second.nested;
      denied = true;
    }
    size_t dot = full.rfind('.');
    if (dot == std::string_view::npos) break;
    full = full.substr(0, dot);
  }
  // getattr chains through dunders reach anything (__globals__, __builtins__, __subclasses__).
  std::string_view rest = name;
  while (!rest.empty()) {
    size_t dot = rest.find('.');
    std::string_view part = rest.substr(0, dot);
    if (IsDunder(part) && part != "__init__" && part != "__new__") {
      out.severity = Severity::kCritical;
      out.reason = kDunder;
      denied = true;
    } else if (IsDunder(part) && rest.size() != part.size()) {
      // `X.__init__.__globals__` and friends: anything after a dunder is traversal.
      out.severity = Severity::kCritical;
      out.reason = kDunder;
      denied = true;
    }
    if (dot == std::string_view::npos) break;
    rest = rest.substr(dot + 1);
  }
  out.verdict = denied ? ImportVerdict::kDenied : ImportVerdict::kUnknown;
  if (!denied) out.severity = Severity::kMedium;
  return out;
}

namespace {

// joblib's wrappers around the NumPy arrays it stores beside the pickle.
constexpr std::string_view kJoblib[] = {
    "joblib.numpy_pickle.NumpyArrayWrapper",
    "joblib.numpy_pickle.NDArrayWrapper",
    "joblib.numpy_pickle.ZNDArrayWrapper",
    "joblib.numpy_pickle_compat.NDArrayWrapper",
    "joblib.numpy_pickle_compat.ZNDArrayWrapper",
    "numpy.core.numeric._frombuffer",
    "numpy._core.numeric._frombuffer",
};

// Common scikit-learn estimators and transformers, and the NumPy/SciPy objects they hold.
constexpr std::string_view kSklearn[] = {
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.linear_model._base.LinearRegression",
    "sklearn.linear_model._ridge.Ridge",
    "sklearn.linear_model._ridge.RidgeClassifier",
    "sklearn.linear_model._stochastic_gradient.SGDClassifier",
    "sklearn.linear_model._stochastic_gradient.SGDRegressor",
    "sklearn.linear_model._coordinate_descent.Lasso",
    "sklearn.linear_model._coordinate_descent.ElasticNet",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._classes.DecisionTreeRegressor",
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.ensemble._forest.RandomForestRegressor",
    "sklearn.ensemble._forest.ExtraTreesClassifier",
    "sklearn.ensemble._forest.ExtraTreesRegressor",
    "sklearn.ensemble._gb.GradientBoostingClassifier",
    "sklearn.ensemble._gb.GradientBoostingRegressor",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.loss.HalfMultinomialLoss",
    "sklearn._loss.loss.HalfSquaredError",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.IdentityLink",
    "sklearn._loss.link.MultinomialLogit",
    "sklearn.svm._classes.SVC",
    "sklearn.svm._classes.SVR",
    "sklearn.svm._classes.LinearSVC",
    "sklearn.neighbors._classification.KNeighborsClassifier",
    "sklearn.neighbors._regression.KNeighborsRegressor",
    "sklearn.naive_bayes.MultinomialNB",
    "sklearn.naive_bayes.GaussianNB",
    "sklearn.cluster._kmeans.KMeans",
    "sklearn.decomposition._pca.PCA",
    "sklearn.decomposition._truncated_svd.TruncatedSVD",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.preprocessing._data.MinMaxScaler",
    "sklearn.preprocessing._data.RobustScaler",
    "sklearn.preprocessing._label.LabelEncoder",
    "sklearn.preprocessing._encoders.OneHotEncoder",
    "sklearn.preprocessing._encoders.OrdinalEncoder",
    "sklearn.impute._base.SimpleImputer",
    "sklearn.feature_extraction.text.CountVectorizer",
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.pipeline.Pipeline",
    "sklearn.compose._column_transformer.ColumnTransformer",
    "scipy.sparse._csr.csr_matrix",
    "scipy.sparse._csc.csc_matrix",
    "numpy.random._pickle.__randomstate_ctor",
    "numpy.random._pickle.__bit_generator_ctor",
    "numpy.random._pickle.__generator_ctor",
    "numpy.random.mtrand.RandomState",
    "numpy.random._mt19937.MT19937",
};

// XGBoost's scikit-learn wrappers and its Booster (which stores the model as bytes).
constexpr std::string_view kXgboost[] = {
    "xgboost.sklearn.XGBClassifier",
    "xgboost.sklearn.XGBRegressor",
    "xgboost.sklearn.XGBRanker",
    "xgboost.core.Booster",
};

}  // namespace

std::vector<std::string_view> ImportPolicy::ProfileNames() {
  return {"joblib", "sklearn", "xgboost"};
}

bool ImportPolicy::AddProfile(std::string_view name) {
  auto add = [&](const auto& list) {
    for (std::string_view n : list) Allow(std::string(n));
    return true;
  };
  if (name == "joblib") return add(kJoblib);
  if (name == "sklearn") return add(kSklearn);
  if (name == "xgboost") return add(kXgboost);
  return false;
}

}  // namespace rampart::supply
