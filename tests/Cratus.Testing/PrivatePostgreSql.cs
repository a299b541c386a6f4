using System.Diagnostics;
using System.Globalization;
using Npgsql;

namespace Cratus.Testing;

/// <summary>
/// A throw-away PostgreSQL cluster of one test class (initdb and pg_ctl of the installed PostgreSQL), which the test
/// may freeze: SIGSTOP on the postmaster and every backend, so the database hangs (connections are accepted by the
/// kernel, nothing answers) rather than refusing, as a stalled host or storage does. The shared test cluster is never
/// frozen: other people's tests use it. Under root the cluster runs as the postgres user, as .ci/run does.
/// </summary>
public sealed class PrivatePostgreSql : IAsyncLifetime
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "cratus-private-pg-" + Guid.NewGuid().ToString("N")[..12]);
    private string DataFolder => Path.Combine(_folder, "data");
    private static bool IsRoot => Environment.UserName == "root";

    public int Port { get; } = Loopback.FreePort();

    /// <summary>A connection string to a new, empty database of this cluster.</summary>
    public Task<string> CreateDatabaseAsync() => TestDatabases.CreateDatabaseOnAsync(
        new NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Port = Port, Username = "postgres", Database = "postgres" }.ConnectionString);

    public async Task InitializeAsync()
    {
        // The tests that use it are PostgreSQL cases (IRunsOnPostgreSql): skipped where no PostgreSQL is configured.
        if (TestDatabases.PostgreSqlServer is null) return;
        Directory.CreateDirectory(_folder);
        if (IsRoot) await RunAsync("chown", $"postgres {_folder}");
        var bin = Binaries();
        // fsync off: the cluster is thrown away, and these tests are about hanging, not durability.
        await RunAsPostgresAsync($"'{bin}/initdb' -D '{DataFolder}' -A trust -U postgres --no-sync >/dev/null");
        await StartAsync();
    }

    public Task StartAsync() => RunAsPostgresAsync(
        $"'{Binaries()}/pg_ctl' -D '{DataFolder}' -l '{_folder}/pg.log' -w -o \"-c listen_addresses=127.0.0.1 -p {Port} -k '{_folder}' -c fsync=off -c max_connections=200\" start >/dev/null");

    /// <summary>Stops the cluster at once: its address refuses connections.</summary>
    public Task StopAsync() => RunAsPostgresAsync($"'{Binaries()}/pg_ctl' -D '{DataFolder}' -m immediate stop >/dev/null");

    /// <summary>SIGSTOP on the postmaster first (so it forks no new backend), then on every process it started.</summary>
    public async Task FreezeAsync()
    {
        var postmaster = PostmasterId();
        await RunAsync("kill", $"-STOP {postmaster}");
        foreach (var child in ChildrenOf(postmaster)) await RunAsync("kill", $"-STOP {child}", mayHaveEnded: true);
    }

    /// <summary>SIGCONT on the backends, then on the postmaster.</summary>
    public async Task ThawAsync()
    {
        var postmaster = PostmasterId();
        // A backend may end between the look and the signal: its kill fails and there is nothing left to wake.
        foreach (var child in ChildrenOf(postmaster)) await RunAsync("kill", $"-CONT {child}", mayHaveEnded: true);
        await RunAsync("kill", $"-CONT {postmaster}");
    }

    public async Task DisposeAsync()
    {
        try
        {
            if (File.Exists(Path.Combine(DataFolder, "postmaster.pid")))
            {
                await ThawAsync();
                await StopAsync();
            }
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
        }
    }

    private int PostmasterId() =>
        int.Parse(File.ReadLines(Path.Combine(DataFolder, "postmaster.pid")).First(), CultureInfo.InvariantCulture);

    private static List<int> ChildrenOf(int parent)
    {
        var children = new List<int>();
        foreach (var folder in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(folder), out var pid)) continue;
            try
            {
                // /proc/<pid>/stat: "pid (name) state ppid ..."; the name may hold spaces, so read after the last ')'.
                var stat = File.ReadAllText(Path.Combine(folder, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (int.Parse(fields[1], CultureInfo.InvariantCulture) == parent) children.Add(pid);
            }
            catch (IOException)
            {
                // The process ended while we looked.
            }
        }
        return children;
    }

    private static string Binaries() =>
        Directory.GetDirectories("/usr/lib/postgresql").OrderByDescending(d => d, StringComparer.Ordinal).Select(d => Path.Combine(d, "bin"))
            .FirstOrDefault(d => File.Exists(Path.Combine(d, "initdb"))) ?? throw new InvalidOperationException("no PostgreSQL binaries under /usr/lib/postgresql");

    private static Task RunAsPostgresAsync(string command) =>
        IsRoot ? RunAsync("su", "postgres", "-s", "/bin/bash", "-c", command) : RunAsync("bash", "-c", command);

    private static Task RunAsync(string file, string arguments, bool mayHaveEnded = false) =>
        RunAsync(file, arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries), mayHaveEnded);

    private static Task RunAsync(string file, params string[] arguments) => RunAsync(file, arguments, mayHaveEnded: false);

    private static async Task RunAsync(string file, string[] arguments, bool mayHaveEnded)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start");
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0 && !(mayHaveEnded && (await error).Contains("No such process", StringComparison.Ordinal)))
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited with {process.ExitCode}: {await error}{await output}");
    }
}
