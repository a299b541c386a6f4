using Cratus.Benchmark;
using Cratus.Benchmark.Scenarios;

// The load benchmark, in the manner of grpc-dotnet's benchmark client: reused channels over several HTTP/2
// connections, many call loops per connection, a warm-up, a timed window, per-status counts and latency percentiles.
// Every figure is reported next to a baseline measured in the same run, because these machines are noisy.
//   dotnet build -c Release && dotnet run -c Release --project src/Cratus.Benchmark [-- --seconds 5 --output docs/benchmarks.md]
//   ... -- --store postgres --connection-string "Host=...;Username=..." [--only health,assignment,randomize,storage,multinode]
//   ... -- --target https://cratus-uat.example.org:5080 --client-id edc-um --token-endpoint https://.../connect/token (a UAT deployment)
// Each scenario is a file in Scenarios/; this file reads the options and runs the ones asked for.

var options = new Options(args);
// A run writes its report to docs/benchmarks.md unless told otherwise: asking for help, or mistyping an option, must
// never start one.
if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine(Options.Usage);
    return 0;
}
if (options.Unknown() is { } unknown)
{
    Console.Error.WriteLine($"cratus-benchmark: unknown option {unknown} (--help lists them)");
    return 2;
}
BenchStore store;
DeploymentScenario.Target? target;
try
{
    store = BenchStore.From(options);
    target = options.Has("--target") ? DeploymentScenario.Target.From(options) : null;
}
catch (Exception ex) when (ex is ArgumentException or UriFormatException or FormatException)
{
    Console.Error.WriteLine($"cratus-benchmark: {ex.Message}");
    return 2;
}
if (options.Has("--server")) BenchServer.ServerFolder = Path.GetFullPath(options.Text("--server", ""));
var baselineServer = options.Has("--baseline-server") ? Path.GetFullPath(options.Text("--baseline-server", "")) : null;
var window = new Window(options.Number("--seconds", 5), options.Number("--warmup", 2));
var scale = options.Number("--scale", 100_000);
var output = options.Text("--output", Path.Combine(Repository.Root(), "docs", "benchmarks.md"));
// Which measurements to run (all by default); a subset is the quick loop for profiling, e.g. --only assignment. The
// large trial (scale) is pre-filled on SQLite only; the two-node scenario (multinode) runs on PostgreSQL only.
var only = options.Text("--only", store.Kind switch
{
    StoreKind.Sqlite => "health,assignment,randomize,storage,doseorder,scale",
    StoreKind.PostgreSql => "health,assignment,randomize,storage,multinode",
    _ => "health,assignment,randomize,storage",
}).Split(',', StringSplitOptions.TrimEntries);
// A fresh server process needs several seconds of calls before tiered compilation has settled.
var scaleWarmup = options.Number("--scale-warmup", 10);

var report = new Report();
report.Line("# Benchmark results");
report.Line();
report.Line($"Run {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on {Environment.ProcessorCount} cores, {CpuModel()}, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}.");
try
{
    if (target is not null)
    {
        report.Line($"Load generator on this machine; window {window.Seconds} s after a {window.Warmup} s warm-up; 4 HTTP/2 connections.");
        report.Line();
        await DeploymentScenario.RunAsync(target, window, report);
    }
    else
    {
        report.Line($"Server: Release build, {store.Title}, loopback only. Window {window.Seconds} s after a {window.Warmup} s warm-up; 4 HTTP/2 connections per server.");
        report.Line();
        await CallScenarios.RunAsync(only, window, report, store);
        if (only.Contains("multinode")) await MultiNodeScenario.RunAsync(store, window, report);
        if (only.Contains("scale"))
        {
            if (store.Kind == StoreKind.Sqlite) await ScaleScenario.RunAsync(scale, window with { Warmup = scaleWarmup }, report, baselineServer);
            else report.Line("Scale not run: the large trial is pre-filled on SQLite only.");
        }
        if (only.Contains("deployment")) await DeploymentScenario.CheckAsync(window, report);
        if (only.Contains("crash")) await CrashCyclesScenario.RunAsync(options.Number("--crash-cycles", 100), report);
    }
}
catch (InvalidOperationException ex) when (ex.Message.StartsWith("refused:", StringComparison.Ordinal) || ex.Message.StartsWith("this server does not start", StringComparison.Ordinal))
{
    Console.Error.WriteLine($"cratus-benchmark: {ex.Message}");
    return 3;
}

await report.WriteAsync(output);
return 0;

static string CpuModel() =>
    File.Exists("/proc/cpuinfo") && File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal)) is { } line
        ? line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim() : "unknown CPU";
