//! Which pickle globals are safe to import, and how bad every other one is.
//!
//! The allow-list mirrors what PyTorch's weights-only unpickler accepts (tensor and storage
//! rebuild functions), numpy's array reconstruction, `collections.OrderedDict` and plain
//! builtins. Everything else is a finding: critical when the module or any attribute in the
//! dotted name can execute code, touch files or reach the network, high otherwise.

use crate::inspect::Severity;

/// Exact `module.name` pairs that a weights-only load accepts.
const ALLOWED: &[&str] = &[
    "collections.OrderedDict",
    "collections.Counter",
    "collections.defaultdict",
    "builtins.set",
    "builtins.frozenset",
    "builtins.bytearray",
    "builtins.bytes",
    "builtins.slice",
    "builtins.range",
    "builtins.complex",
    "builtins.int",
    "builtins.float",
    "builtins.bool",
    "builtins.str",
    "builtins.list",
    "builtins.dict",
    "builtins.tuple",
    "__builtin__.set",
    "__builtin__.frozenset",
    "__builtin__.bytearray",
    "__builtin__.slice",
    "__builtin__.complex",
    "_codecs.encode",
    "torch._utils._rebuild_tensor",
    "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_tensor_v3",
    "torch._utils._rebuild_sparse_tensor",
    "torch._utils._rebuild_meta_tensor_no_storage",
    "torch._utils._rebuild_nested_tensor",
    "torch._utils._rebuild_parameter",
    "torch._utils._rebuild_parameter_with_state",
    "torch._utils._rebuild_qtensor",
    "torch._utils._rebuild_wrapper_subclass",
    "torch._utils._rebuild_device_tensor_from_numpy",
    "torch._tensor._rebuild_from_type",
    "torch._tensor._rebuild_from_type_v2",
    "torch.nn.parameter.Parameter",
    "torch.serialization._get_layout",
    "torch.Size",
    "torch.device",
    "torch.Tensor",
    "torch.storage.UntypedStorage",
    "torch.storage.TypedStorage",
    "numpy.core.multiarray._reconstruct",
    "numpy._core.multiarray._reconstruct",
    "numpy.core.multiarray.scalar",
    "numpy._core.multiarray.scalar",
    "numpy.core.numeric._frombuffer",
    "numpy._core.numeric._frombuffer",
    "numpy.ndarray",
    "numpy.dtype",
    "joblib.numpy_pickle.NumpyArrayWrapper",
];

/// Attribute names on the `torch` module that are plain types (storages, dtypes, layouts).
const TORCH_TYPES: &[&str] = &[
    "FloatStorage",
    "DoubleStorage",
    "HalfStorage",
    "BFloat16Storage",
    "LongStorage",
    "IntStorage",
    "ShortStorage",
    "CharStorage",
    "ByteStorage",
    "BoolStorage",
    "ComplexFloatStorage",
    "ComplexDoubleStorage",
    "QInt8Storage",
    "QUInt8Storage",
    "QInt32Storage",
    "QUInt4x2Storage",
    "QUInt2x4Storage",
    "UntypedStorage",
    "float32",
    "float64",
    "float16",
    "bfloat16",
    "int64",
    "int32",
    "int16",
    "int8",
    "uint8",
    "bool",
    "complex64",
    "complex128",
    "float8_e4m3fn",
    "float8_e5m2",
    "qint8",
    "quint8",
    "qint32",
    "strided",
    "sparse_coo",
    "sparse_csr",
    "sparse_csc",
    "sparse_bsr",
    "sparse_bsc",
    "_mkldnn",
    "contiguous_format",
    "channels_last",
    "channels_last_3d",
    "preserve_format",
    "per_tensor_affine",
    "per_channel_affine",
    "per_tensor_symmetric",
    "per_channel_symmetric",
    "per_channel_affine_float_qparams",
];

/// Module roots whose members execute code, spawn processes, touch files or the network,
/// or load further code. Importing anything from them is critical.
const DANGEROUS_MODULES: &[&str] = &[
    "os",
    "posix",
    "nt",
    "posixpath",
    "ntpath",
    "subprocess",
    "_posixsubprocess",
    "sys",
    "builtins",
    "__builtin__",
    "__builtins__",
    "importlib",
    "imp",
    "runpy",
    "code",
    "codeop",
    "pty",
    "commands",
    "shutil",
    "socket",
    "_socket",
    "ssl",
    "_ssl",
    "http",
    "httplib",
    "urllib",
    "urllib2",
    "urllib3",
    "requests",
    "aiohttp",
    "httpx",
    "ftplib",
    "smtplib",
    "telnetlib",
    "imaplib",
    "poplib",
    "nntplib",
    "xmlrpc",
    "xmlrpclib",
    "asyncio",
    "multiprocessing",
    "_multiprocessing",
    "threading",
    "_thread",
    "ctypes",
    "_ctypes",
    "cffi",
    "marshal",
    "types",
    "pickle",
    "_pickle",
    "cPickle",
    "dill",
    "cloudpickle",
    "shelve",
    "webbrowser",
    "pydoc",
    "timeit",
    "trace",
    "profile",
    "cProfile",
    "pdb",
    "bdb",
    "inspect",
    "operator",
    "_operator",
    "functools",
    "_functools",
    "io",
    "_io",
    "codecs",
    "logging",
    "tempfile",
    "glob",
    "pathlib",
    "fileinput",
    "linecache",
    "zipimport",
    "pkgutil",
    "site",
    "sysconfig",
    "distutils",
    "setuptools",
    "pip",
    "venv",
    "ensurepip",
    "uuid",
    "_osx_support",
    "_aix_support",
    "_pyrepl",
    "test",
    "mailcap",
    "socketserver",
    "select",
    "signal",
    "resource",
    "dbm",
    "sqlite3",
    "platform",
    "getpass",
    "doctest",
    "idlelib",
    "lib2to3",
    "tkinter",
    "cgi",
    "cgitb",
    "wsgiref",
    "_winapi",
    "winreg",
    "msvcrt",
    "IPython",
    "jinja2",
    "yaml",
    "builtins",
    "copyreg",
    "copy_reg",
    "gc",
    "weakref",
    "_io",
    "zipfile",
    "tarfile",
    "bz2",
    "lzma",
    "gzip",
    "smtpd",
    "asynchat",
    "asyncore",
    "concurrent",
    "sched",
    "dis",
    "ast",
    "symtable",
    "compileall",
    "py_compile",
    "keras",
    "tensorflow",
    "tf_keras",
    "pandas",
    "numexpr",
    "sympy",
    "opcode",
    "_imp",
    "_io",
    "_sitebuiltins",
    "__main__",
    "string",
    "ftplib",
];

/// Dotted module prefixes that look harmless by root but are known code-execution gadgets.
const DANGEROUS_PREFIXES: &[&str] = &[
    "torch.utils.collect_env",
    "torch.utils.bottleneck",
    "torch._inductor",
    "torch._dynamo",
    "torch.fx",
    "torch.jit",
    "torch.hub",
    "torch.serialization",
    "torch.utils.data",
    "torch.utils._config_module",
    "torch.utils.cpp_extension",
    "torch.package",
    "torch.distributed",
    "torch._C",
    "torch.ops",
    "torch.library",
    "torch.compiler",
    "numpy.f2py",
    "numpy.testing",
    "numpy.distutils",
    "numpy.lib.npyio",
    "numpy.load",
    "numpy.ctypeslib",
    "joblib.load",
    "joblib.parallel",
    "joblib.externals",
    "joblib._store",
];

/// Attribute names that run code, open files or spawn processes wherever they live.
const DANGEROUS_NAMES: &[&str] = &[
    "eval",
    "exec",
    "execfile",
    "compile",
    "open",
    "system",
    "popen",
    "spawn",
    "spawnv",
    "spawnve",
    "spawnl",
    "spawnlp",
    "spawnv_passfds",
    "spawnvpe",
    "execv",
    "execve",
    "execl",
    "execvp",
    "fork",
    "forkpty",
    "__import__",
    "import_module",
    "getattr",
    "setattr",
    "delattr",
    "globals",
    "locals",
    "vars",
    "input",
    "breakpoint",
    "apply",
    "run",
    "runcode",
    "runctx",
    "runcommand",
    "run_path",
    "run_module",
    "_run_code",
    "call",
    "check_call",
    "check_output",
    "Popen",
    "getoutput",
    "getstatusoutput",
    "loads",
    "load",
    "load_config",
    "attrgetter",
    "methodcaller",
    "itemgetter",
    "partial",
    "urlopen",
    "urlretrieve",
    "create_connection",
    "connect",
    "get",
    "post",
    "request",
    "findmatch",
    "write_file",
    "rmtree",
    "remove",
    "unlink",
    "rename",
    "copyfile",
    "move",
    "CDLL",
    "LoadLibrary",
    "CodeType",
    "FunctionType",
    "execWrapper",
    "compile_file",
    "pipepager",
    "pipe_pager",
    "debug_script",
    "assert_python_ok",
    "runstring",
    "resolve_name",
    "locate",
    "main",
    "_get_command_stdout",
    "_read_output",
    "_read_cmd_output",
    "_run_pip",
    "getattr_static",
    "getlincoef",
    "basichandlers",
    "evaluate_guards_expression",
    "run_and_read_all",
    "_start",
    "__reduce__",
    "__reduce_ex__",
    "__setstate__",
    "__getattribute__",
    "__class__",
    "__subclasses__",
    "__globals__",
    "__builtins__",
    "__code__",
    "__dict__",
    "modules",
];

/// How a global import is graded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// On the allow-list: no finding.
    Allowed,
    /// Not allowed; the severity to report and whether it is a known dangerous gadget.
    Denied(Severity),
}

/// Grade the global `module`.`name` as a loader would resolve it (protocol 4 resolves dotted
/// names attribute by attribute, so `("pathlib", "os.system")` reaches `os.system`).
pub fn classify(module: &str, name: &str) -> Verdict {
    if module.is_empty() || name.is_empty() || module.contains('\n') || name.contains('\n') {
        return Verdict::Denied(Severity::High);
    }
    let full = format!("{module}.{name}");
    if ALLOWED.contains(&full.as_str()) {
        return Verdict::Allowed;
    }
    if module == "torch" && TORCH_TYPES.contains(&name) {
        return Verdict::Allowed;
    }
    if (module == "numpy.dtypes") && name.ends_with("DType") && !name.contains('.') {
        return Verdict::Allowed;
    }
    if is_dangerous(module, name) {
        Verdict::Denied(Severity::Critical)
    } else {
        Verdict::Denied(Severity::High)
    }
}

fn is_dangerous(module: &str, name: &str) -> bool {
    let root = module.split('.').next().unwrap_or(module);
    if DANGEROUS_MODULES.contains(&root) {
        return true;
    }
    let full = format!("{module}.{name}");
    if DANGEROUS_PREFIXES
        .iter()
        .any(|p| full == *p || full.starts_with(&format!("{p}.")))
    {
        return true;
    }
    // Every component of the module path and the dotted name counts: `pathlib` + `os.system`.
    module
        .split('.')
        .chain(name.split('.'))
        .any(|part| DANGEROUS_NAMES.contains(&part) || DANGEROUS_MODULES.contains(&part))
}

/// Whether calling `module.name` on a byte string unpickles it (a nested pickle).
pub fn is_unpickler(module: &str, name: &str) -> bool {
    let root = module.split('.').next().unwrap_or(module);
    matches!(
        root,
        "pickle" | "_pickle" | "cPickle" | "dill" | "cloudpickle" | "joblib" | "torch" | "numpy"
    ) && matches!(
        name.rsplit('.').next(),
        Some("loads" | "load" | "_loads" | "Unpickler")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_and_grades() {
        assert_eq!(
            classify("torch._utils", "_rebuild_tensor_v2"),
            Verdict::Allowed
        );
        assert_eq!(classify("collections", "OrderedDict"), Verdict::Allowed);
        assert_eq!(classify("torch", "FloatStorage"), Verdict::Allowed);
        assert_eq!(
            classify("numpy.core.multiarray", "_reconstruct"),
            Verdict::Allowed
        );
        assert_eq!(classify("builtins", "set"), Verdict::Allowed);
        assert_eq!(
            classify("builtins", "eval"),
            Verdict::Denied(Severity::Critical)
        );
        assert_eq!(
            classify("pathlib", "os.system"),
            Verdict::Denied(Severity::Critical)
        );
        assert_eq!(classify("mymodel", "Net"), Verdict::Denied(Severity::High));
        assert_eq!(
            classify("torch", "FloatStorage.__reduce__"),
            Verdict::Denied(Severity::Critical)
        );
        assert_eq!(
            classify("torch.utils.collect_env", "run"),
            Verdict::Denied(Severity::Critical)
        );
        assert_eq!(
            classify("multiprocessing.util", "spawnv_passfds"),
            Verdict::Denied(Severity::Critical)
        );
        assert_eq!(
            classify("mailcap", "findmatch"),
            Verdict::Denied(Severity::Critical)
        );
        // Near misses: a module whose name merely starts like an allowed one is not allowed.
        assert_eq!(
            classify("torch._utilsx", "_rebuild_tensor_v2"),
            Verdict::Denied(Severity::High)
        );
        assert_eq!(
            classify("collections", "OrderedDictX"),
            Verdict::Denied(Severity::High)
        );
    }

    #[test]
    fn unpicklers() {
        assert!(is_unpickler("pickle", "loads"));
        assert!(is_unpickler("_pickle", "loads"));
        assert!(!is_unpickler("collections", "OrderedDict"));
    }
}
