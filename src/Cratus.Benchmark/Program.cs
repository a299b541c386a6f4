using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Cratus.Randomization.Protos.V1;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Microsoft.Data.Sqlite;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

// The load benchmark, in the manner of grpc-dotnet's benchmark client: reused channels over several HTTP/2
// connections, many call loops per connection, a warm-up, a timed window, per-status counts and latency percentiles.
// Every figure is reported next to a baseline measured in the same run, because these machines are noisy.
//   dotnet build -c Release && dotnet run -c Release --project src/Cratus.Benchmark [-- --seconds 5 --output docs/benchmarks.md]

var seconds = Option("--seconds", 5);
var warmup = Option("--warmup", 2);
var scale = Option("--scale", 100_000);
var output = OptionText("--output", Path.Combine(RepositoryRoot(), "docs", "benchmarks.md"));
// Which measurements to run (all by default); a subset is the quick loop for profiling, e.g. --only assignment.
var only = OptionText("--only", "health,assignment,randomize,storage,scale").Split(',', StringSplitOptions.TrimEntries);
// A fresh server process needs several seconds of calls before tiered compilation has settled.
var scaleWarmup = Option("--scale-warmup", 10);
int[] concurrencies = [1, 8, 32];

var report = new StringBuilder();
void Line(string text = "")
{
    Console.WriteLine(text);
    report.AppendLine(text);
}

Line("# Benchmark results");
Line();
Line($"Run {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on {Environment.ProcessorCount} cores, {CpuModel()}, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}.");
Line($"Server: Release build, SQLite on a temporary file (WAL, synchronous=FULL), loopback only. Window {seconds} s after a {warmup} s warm-up; 4 HTTP/2 connections.");
Line();

string[] measurements = ["health", "assignment", "randomize", "storage"];
string[] names = [.. measurements.Where(only.Contains)];
if (names.Length > 0)
{
    await using var server = await BenchServer.StartAsync(scaleParticipants: 0);
    var participant = await server.RandomizeOneAsync();
    // Generating the benchmark's long schedule is a one-off at start-up; the peak that matters is the one under calls.
    var startupPeak = server.PeakMemoryMegabytes();
    server.ResetPeakMemory();
    var results = new Dictionary<(string, int), Result>();
    foreach (var c in concurrencies)
        foreach (var name in names)
        {
            Console.WriteLine($"measuring {name} at {c} callers on server process {server.ProcessId}");
            results[(name, c)] = name switch
            {
                "health" => await Measure(c, seconds, warmup, server.Channels(anonymous: true), async (ch, _) =>
                    await new Health.HealthClient(ch).CheckAsync(new HealthCheckRequest())),
                "assignment" => await Measure(c, seconds, warmup, server.Channels(), async (ch, _) =>
                    await new RandomizationService.RandomizationServiceClient(ch).GetAssignmentAsync(new GetAssignmentRequest { ParticipantId = participant })),
                "randomize" => await Measure(c, seconds, warmup, server.Channels(), async (ch, i) =>
                    await new RandomizationService.RandomizationServiceClient(ch).RandomizeAsync(BenchServer.Request($"E{c}-{i}"))),
                _ => await StorageCeiling(c, seconds, warmup),
            };
        }
    Line("## Throughput and latency");
    Line();
    Line("| measurement | callers | calls/s | p50 ms | p99 ms | statuses |");
    Line("| --- | ---: | ---: | ---: | ---: | --- |");
    foreach (var name in names)
        foreach (var c in concurrencies)
        {
            var r = results[(name, c)];
            Line($"| {Label(name)} | {c} | {r.Rate:F0} | {r.P50:F2} | {r.P99:F2} | {r.Statuses} |");
        }
    Line();
    if (names.Length == 4)
    {
        Line("## Ratios (same run)");
        Line();
        Line("| callers | Randomize / storage ceiling | GetAssignment / health check |");
        Line("| ---: | ---: | ---: |");
        foreach (var c in concurrencies)
            Line($"| {c} | {results[("randomize", c)].Rate / results[("storage", c)].Rate:F2} | {results[("assignment", c)].Rate / results[("health", c)].Rate:F2} |");
        Line();
    }
    Line($"Server peak memory (VmHWM) under calls: {server.PeakMemoryMegabytes():F0} MB; at start-up, while generating the " +
         $"{BenchServer.ScheduleLength(0):N0}-entry schedule, {startupPeak:F0} MB.");
    Line();
}

if (only.Contains("scale"))
{
    // Two fresh servers measured alike: one on an empty trial, one on a trial already holding `scale` randomizations.
    Result empty, full;
    double fullMemory;
    await using (var server = await BenchServer.StartAsync(scaleParticipants: 0))
    {
        Console.WriteLine($"measuring scale (empty) on server process {server.ProcessId}");
        empty = await Measure(32, seconds, scaleWarmup, server.Channels(), async (ch, i) =>
            await new RandomizationService.RandomizationServiceClient(ch).RandomizeAsync(BenchServer.Request($"S-{i}")));
    }
    await using (var server = await BenchServer.StartAsync(scaleParticipants: scale))
    {
        Console.WriteLine($"measuring scale (large) on server process {server.ProcessId}");
        full = await Measure(32, seconds, scaleWarmup, server.Channels(), async (ch, i) =>
            await new RandomizationService.RandomizationServiceClient(ch).RandomizeAsync(BenchServer.Request($"L-{i}")));
        fullMemory = server.PeakMemoryMegabytes();
    }
    Line("## Scale");
    Line();
    Line($"Randomize with 32 callers, each on a fresh server after a {scaleWarmup} s warm-up: on a trial already holding {scale:N0} randomizations " +
         $"{full.Rate:F0} calls/s (p99 {full.P99:F2} ms, {full.Statuses}), on an empty one {empty.Rate:F0} calls/s (p99 {empty.P99:F2} ms): " +
         $"ratio {full.Rate / empty.Rate:F2}.");
    Line($"Server peak memory on the large trial: {fullMemory:F0} MB.");
}

if (only.Contains("crash"))
{
    var cycles = Option("--crash-cycles", 100);
    Line("## Crash cycles");
    Line();
    Line(await CrashCyclesAsync(cycles));
    Line();
}

Directory.CreateDirectory(Path.GetDirectoryName(output)!);
await File.WriteAllTextAsync(output, report.ToString());
Console.WriteLine($"written to {output}");
return 0;

// SIGKILL the server at a random moment under a load of Randomize calls, restart it on the same file, retry what got
// no answer; at the end every acknowledged randomization must be stored as acknowledged, no schedule entry used
// twice, every stratum used in order without gaps, and the audit trail intact. Throws (exit code non-zero) if not.
static async Task<string> CrashCyclesAsync(int cycles)
{
    var deployment = BenchServer.Deploy(0);
    var acknowledged = new ConcurrentDictionary<string, BlindedAssignment>();
    var unacknowledged = new ConcurrentDictionary<string, RandomizeRequest>();
    var random = new Random(20261122);
    var next = 0;
    var started = Stopwatch.GetTimestamp();
    try
    {
        for (var cycle = 0; ; cycle++)
        {
            await using var server = await BenchServer.LaunchAsync(deployment, deleteFolderOnDispose: false);
            if (cycle == 0) await server.GenerateScheduleAsync();
            var site = new RandomizationService.RandomizationServiceClient(server.Channel(server.Token("site_coordinator", "UM")));
            foreach (var (id, request) in unacknowledged)
            {
                acknowledged[id] = (await site.RandomizeAsync(request, deadline: DateTime.UtcNow.AddSeconds(20))).Assignment;
                unacknowledged.TryRemove(id, out _);
            }
            if (cycle == cycles) return await VerifyAfterCrashesAsync(server, deployment, acknowledged, cycles, Stopwatch.GetElapsedTime(started));

            using var stop = new CancellationTokenSource();
            var load = Enumerable.Range(0, 8).Select(async _ =>
            {
                while (!stop.IsCancellationRequested)
                {
                    var request = BenchServer.Request($"K{Interlocked.Increment(ref next)}");
                    try
                    {
                        acknowledged[request.RequestId] = (await site.RandomizeAsync(request, deadline: DateTime.UtcNow.AddSeconds(20))).Assignment;
                    }
                    catch (RpcException)
                    {
                        unacknowledged[request.RequestId] = request;
                        return;
                    }
                }
            }).ToList();
            await Task.Delay(random.Next(150, 700));
            await server.KillAsync();
            stop.Cancel();
            await Task.WhenAll(load);
        }
    }
    finally
    {
        SqliteConnection.ClearAllPools();
        BenchServer.DeleteFolder(deployment.Folder);
    }
}

static async Task<string> VerifyAfterCrashesAsync(BenchServer server, BenchDeployment deployment, ConcurrentDictionary<string, BlindedAssignment> acknowledged, int cycles, TimeSpan took)
{
    var monitor = new RandomizationService.RandomizationServiceClient(server.Channel(server.Token("monitor")));
    foreach (var (_, assignment) in acknowledged)
    {
        var found = (await monitor.GetAssignmentAsync(new GetAssignmentRequest { ParticipantId = assignment.ParticipantId })).Assignment;
        if (!found.Equals(assignment)) throw new InvalidOperationException($"participant {assignment.ParticipantId} is stored differently from what was acknowledged");
    }
    var audit = await new AuditService.AuditServiceClient(server.Channel(server.Token("monitor"))).VerifyAuditTrailAsync(new VerifyAuditTrailRequest());
    if (!audit.Intact) throw new InvalidOperationException("the audit trail does not verify: " + audit.Problem);
    await using var db = new SqliteConnection($"Data Source={deployment.Settings["Database__SqlitePath"]};Pooling=False");
    await db.OpenAsync();
    await using var check = db.CreateCommand();
    check.CommandText = """
        SELECT COUNT(*), COUNT(DISTINCT "ScheduleEntryId"),
               (SELECT COUNT(*) FROM (SELECT "Stratum", MAX("StratumSequence") - COUNT(*) AS gap FROM "Participants" GROUP BY "Stratum") WHERE gap <> 0)
        FROM "Participants"
        """;
    await using var reader = await check.ExecuteReaderAsync();
    await reader.ReadAsync();
    var (stored, entries, gaps) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
    if (stored != acknowledged.Count || entries != stored || gaps != 0)
        throw new InvalidOperationException($"{acknowledged.Count} acknowledged, {stored} stored, {entries} distinct entries, {gaps} strata with gaps");
    return $"{cycles} SIGKILLs under 8 callers of Randomize, each at a random moment, the server restarted on the same file every time " +
           $"({took.TotalSeconds:F0} s): {acknowledged.Count:N0} acknowledged randomizations, all stored as acknowledged, {entries:N0} distinct " +
           "schedule entries, every stratum used in order without gaps, the audit trail intact.";
}

static string Label(string name) => name switch
{
    "health" => "gRPC health check (transport baseline)",
    "assignment" => "GetAssignment (a read)",
    "randomize" => "Randomize, fresh participants (the write)",
    _ => "durable single-row commit (storage ceiling)",
};

// Many call loops over a few reused channels; each loop bounded in count and time.
static async Task<Result> Measure(int callers, int seconds, int warmup, GrpcChannel[] channels, Func<GrpcChannel, long, Task> call)
{
    var latencies = new List<double>[callers];
    var statuses = new Dictionary<StatusCode, int>[callers];
    long sequence = 0;
    var measuring = false;
    var stopAt = DateTime.UtcNow.AddSeconds(warmup + seconds);
    var startMeasuringAt = DateTime.UtcNow.AddSeconds(warmup);
    var loops = Enumerable.Range(0, callers).Select(async loop =>
    {
        latencies[loop] = [];
        statuses[loop] = [];
        var channel = channels[loop % channels.Length];
        for (var n = 0; n < 1_000_000 && DateTime.UtcNow < stopAt; n++)
        {
            var started = Stopwatch.GetTimestamp();
            var status = StatusCode.OK;
            try
            {
                await call(channel, Interlocked.Increment(ref sequence));
            }
            catch (RpcException ex)
            {
                status = ex.StatusCode;
            }
            if (DateTime.UtcNow >= startMeasuringAt && DateTime.UtcNow < stopAt)
            {
                Volatile.Write(ref measuring, true);
                latencies[loop].Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                statuses[loop][status] = statuses[loop].GetValueOrDefault(status) + 1;
            }
        }
    }).ToList();
    await Task.WhenAll(loops);
    return Result.From(latencies.SelectMany(l => l).ToList(), statuses.SelectMany(s => s), seconds);
}

// The rate of durable single-row commits on the same SQLite settings: the ceiling for any durable write.
static async Task<Result> StorageCeiling(int callers, int seconds, int warmup)
{
    var path = Path.Combine(Path.GetTempPath(), $"cratus-ceiling-{Guid.NewGuid():N}.db");
    var connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = true, DefaultTimeout = 30 }.ToString();
    await using (var setup = new SqliteConnection(connectionString))
    {
        await setup.OpenAsync();
        await using var create = setup.CreateCommand();
        create.CommandText = "PRAGMA journal_mode=WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL);";
        await create.ExecuteNonQueryAsync();
    }
    try
    {
        return await Measure(callers, seconds, warmup, [null!], async (_, i) =>
        {
            await using var connection = new SqliteConnection(connectionString);
            await connection.OpenAsync();
            await using (var pragma = connection.CreateCommand())
            {
                pragma.CommandText = "PRAGMA synchronous=FULL;";
                await pragma.ExecuteNonQueryAsync();
            }
            await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync();
            await using var insert = connection.CreateCommand();
            insert.Transaction = transaction;
            insert.CommandText = "INSERT INTO t (v) VALUES ($v)";
            insert.Parameters.AddWithValue("$v", "row " + i.ToString(CultureInfo.InvariantCulture));
            await insert.ExecuteNonQueryAsync();
            await transaction.CommitAsync();
        });
    }
    finally
    {
        SqliteConnection.ClearAllPools();
        foreach (var f in new[] { path, path + "-wal", path + "-shm" }) File.Delete(f);
    }
}

int Option(string name, int fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
string OptionText(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;

static string RepositoryRoot()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        if (File.Exists(Path.Combine(dir.FullName, "CratusRandomization.sln"))) return dir.FullName;
    throw new InvalidOperationException("run the benchmark from inside the repository");
}

static string CpuModel() =>
    File.Exists("/proc/cpuinfo") && File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal)) is { } line
        ? line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim() : "unknown CPU";

internal sealed record Result(double Rate, double P50, double P99, string Statuses)
{
    public static Result From(List<double> latencies, IEnumerable<KeyValuePair<StatusCode, int>> statuses, int seconds)
    {
        latencies.Sort();
        double Percentile(double p) => latencies.Count == 0 ? double.NaN : latencies[Math.Min(latencies.Count - 1, (int)(p * latencies.Count))];
        var counts = statuses.GroupBy(s => s.Key).Select(g => $"{g.Key} {g.Sum(x => x.Value)}");
        return new Result(latencies.Count / (double)seconds, Percentile(0.50), Percentile(0.99), string.Join(", ", counts));
    }
}

/// <summary>A folder with a trial definition, and the settings every server on it runs with.</summary>
internal sealed record BenchDeployment(string Folder, string SigningKey, Dictionary<string, string> Settings);

/// <summary>The Release server as a process on a temporary SQLite file; optionally pre-filled with a large trial.</summary>
internal sealed class BenchServer : IAsyncDisposable
{
    private const string Issuer = "cratus-benchmark";
    private readonly Process _process;
    private readonly string _folder;
    private readonly string _signingKey;
    private readonly string _address;

    private readonly bool _deleteFolderOnDispose;

    private BenchServer(Process process, string folder, string signingKey, string address, bool deleteFolderOnDispose)
    {
        _process = process;
        _folder = folder;
        _signingKey = signingKey;
        _address = address;
        _deleteFolderOnDispose = deleteFolderOnDispose;
    }

    public static async Task<BenchServer> StartAsync(int scaleParticipants)
    {
        var server = await LaunchAsync(Deploy(scaleParticipants), deleteFolderOnDispose: true);
        await server.GenerateScheduleAsync();
        if (scaleParticipants > 0) await server.PrefillAsync(scaleParticipants);
        return server;
    }

    /// <summary>A folder with a trial definition, and the settings (keys included) every server on it runs with.</summary>
    public static BenchDeployment Deploy(int scaleParticipants)
    {
        var folder = Directory.CreateTempSubdirectory("cratus-bench-").FullName;
        File.WriteAllText(Path.Combine(folder, "trial.json"), File.ReadAllText(Path.Combine(Path.GetDirectoryName(ServerDll())!, "trial-definitions", "cratus-phase2-only.json"))
            .Replace("\"targetParticipants\": 30", $"\"targetParticipants\": {Target(scaleParticipants)}", StringComparison.Ordinal));
        var signingKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(48));
        return new BenchDeployment(folder, signingKey, new Dictionary<string, string>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Benchmark",
            ["Database__SqlitePath"] = Path.Combine(folder, "cratus.db"),
            ["Token__Issuer"] = Issuer,
            ["Token__SigningKey"] = signingKey,
            ["Encryption__ActiveKeyId"] = "k1",
            ["Encryption__Keys__k1"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
            ["Identity__BootstrapSecret"] = Convert.ToHexString(RandomNumberGenerator.GetBytes(16)),
            ["Audit__HeadSigningKey"] = NewHeadSigningKey(),
            ["Trial__DefinitionPath"] = Path.Combine(folder, "trial.json"),
            ["Logging__FilePath"] = Path.Combine(folder, "logs", "cratus-.json"),
            ["Serilog__MinimumLevel__Default"] = "Warning",
            ["Limits__PermitsPerSecond"] = "100000",
            ["Limits__Burst"] = "100000",
            // Generating a schedule of a quarter of a million entries takes longer than an ordinary call may.
            ["Limits__CallTimeout"] = "00:10:00",
        });
    }

    /// <summary>Starts a server process on a deployment: the first time, or again after it was killed.</summary>
    public static async Task<BenchServer> LaunchAsync(BenchDeployment deployment, bool deleteFolderOnDispose)
    {
        var dll = ServerDll();
        var port = FreePort();
        var start = new ProcessStartInfo("dotnet", dll) { WorkingDirectory = Path.GetDirectoryName(dll)!, UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (k, v) in deployment.Settings) start.Environment[k] = v;
        start.Environment["Kestrel__Endpoints__Grpc__Url"] = $"http://127.0.0.1:{port}";
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new BenchServer(process, deployment.Folder, deployment.SigningKey, $"http://127.0.0.1:{port}", deleteFolderOnDispose);
        await server.WaitForHealthAsync();
        return server;
    }

    public async Task GenerateScheduleAsync() =>
        await new ScheduleService.ScheduleServiceClient(Channel(Token("statistician"))).GenerateScheduleAsync(
            new GenerateScheduleRequest { RequestId = Guid.NewGuid().ToString(), Reason = "benchmark" }, deadline: DateTime.UtcNow.AddMinutes(10));

    private static string ServerDll()
    {
        var dll = Path.Combine(FindRoot(), "src", "Cratus.Randomization.Server", "bin", "Release", "net10.0", "Cratus.Randomization.Server.dll");
        return File.Exists(dll) ? dll : throw new InvalidOperationException($"build the server in Release first: dotnet build -c Release ({dll} is missing)");
    }

    /// <summary>Writes randomizations straight into the database, as a long-running trial would have them (far
    /// faster than through the service), using each stratum's entries in order.</summary>
    private async Task PrefillAsync(int participants)
    {
        await using var db = new SqliteConnection($"Data Source={Path.Combine(_folder, "cratus.db")};Default Timeout=60");
        await db.OpenAsync();
        await using var transaction = (SqliteTransaction)await db.BeginTransactionAsync();
        await using var insert = db.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = """
            INSERT INTO "Participants" ("ParticipantId", "SiteCode", "ScreeningId", "RequestId", "Stratum", "StratumSequence", "ScheduleEntryId",
                "ProductCode", "RandomizedAt", "RandomizedBy", "RandomizedByRole", "ConsentDate", "AgeAtConsent", "Sex", "ClinicalFrailtyScale", "MmseScore")
            SELECT 'P-PRE' || printf('%07d', $n), 'UM', 'PRE' || $n, 'prefill-' || $n, e."Stratum", e."Sequence", e."Id",
                'K-PRE' || printf('%07d', $n), '2026-01-01 00:00:00+00:00', 'prefill', 'site_coordinator', '2026-01-01', 70, $sex, 5, 28
            FROM "ScheduleEntries" e WHERE e."Stratum" = $stratum AND e."Sequence" = $sequence
            """;
        var n = insert.Parameters.Add("$n", SqliteType.Integer);
        var sex = insert.Parameters.Add("$sex", SqliteType.Text);
        var stratum = insert.Parameters.Add("$stratum", SqliteType.Text);
        var sequence = insert.Parameters.Add("$sequence", SqliteType.Integer);
        for (var i = 0; i < participants; i++)
        {
            n.Value = i;
            sex.Value = i % 2 == 0 ? "Female" : "Male";
            stratum.Value = i % 2 == 0 ? "UM/F" : "UM/M";
            sequence.Value = i / 2 + 1;
            await insert.ExecuteNonQueryAsync();
        }
        await using var totals = db.CreateCommand();
        totals.Transaction = transaction;
        totals.CommandText = """INSERT INTO "TrialTotals" ("TrialId", "Randomized") VALUES ('CRATUS', $n) ON CONFLICT ("TrialId") DO UPDATE SET "Randomized" = "Randomized" + $n""";
        totals.Parameters.AddWithValue("$n", participants);
        await totals.ExecuteNonQueryAsync();
        await transaction.CommitAsync();
        // A trial that grew over months has its pages in the database file, not in one huge write-ahead log.
        await using var checkpoint = db.CreateCommand();
        checkpoint.CommandText = "PRAGMA wal_checkpoint(TRUNCATE)";
        await checkpoint.ExecuteNonQueryAsync();
    }

    public int ProcessId => _process.Id;

    public async Task<string> RandomizeOneAsync() =>
        (await new RandomizationService.RandomizationServiceClient(Channel(Token("site_coordinator", "UM"))).RandomizeAsync(Request("first"))).Assignment.ParticipantId;

    public static RandomizeRequest Request(string screening) => new()
    {
        // One request id (a UUID, as every write needs) per participant, the same on every retry of it.
        RequestId = new Guid(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes("bench-" + screening)).AsSpan(0, 16)).ToString(),
        SiteCode = "UM",
        ScreeningId = screening,
        Eligibility = new EligibilityData
        {
            ConsentDate = new CalendarDate { Year = 2026, Month = 1, Day = 5 },
            AgeAtConsentYears = 75,
            Sex = screening.GetHashCode(StringComparison.Ordinal) % 2 == 0 ? Sex.Female : Sex.Male,
            ClinicalFrailtyScale = 5,
            MmseScore = 28,
            ExclusionAttestations =
            {
                new ExclusionAttestation { CriterionCode = "cannot-perform-assessments" },
                new ExclusionAttestation { CriterionCode = "serious-comorbidity" },
                new ExclusionAttestation { CriterionCode = "life-expectancy-under-1-year" },
                new ExclusionAttestation { CriterionCode = "recent-malignancy" },
            },
        },
    };

    public GrpcChannel[] Channels(bool anonymous = false)
    {
        var token = anonymous ? null : Token("site_coordinator", "UM");
        return [.. Enumerable.Range(0, 4).Select(_ => Channel(token))];
    }

    public GrpcChannel Channel(string? token) => GrpcChannel.ForAddress(_address, new GrpcChannelOptions
    {
        HttpHandler = token is null ? new SocketsHttpHandler() : new Bearer(token),
    });

    public string Token(string role, params string[] sites)
    {
        var claims = new List<Claim> { new("sub", "bench-" + role), new("role", role) };
        claims.AddRange(sites.Select(s => new Claim("site", s)));
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = "cratus-randomization",
            Subject = new ClaimsIdentity(claims),
            Expires = DateTime.UtcNow.AddHours(2),
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(_signingKey)), SecurityAlgorithms.HmacSha256),
        });
    }

    /// <summary>Resets the kernel's record of peak memory (VmHWM) to the current resident size.</summary>
    public void ResetPeakMemory() => File.WriteAllText($"/proc/{_process.Id}/clear_refs", "5");

    /// <summary>The entries generated for a trial of this size: one list per stratum (two here), each as long as the target.</summary>
    public static int ScheduleLength(int scaleParticipants) => 2 * Target(scaleParticipants);

    private static string NewHeadSigningKey()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return Convert.ToBase64String(key.ExportPkcs8PrivateKey());
    }

    // Room for every randomization the timed windows make, at well over 1,000 a second.
    private static int Target(int scaleParticipants) => scaleParticipants + 30_000;

    public double PeakMemoryMegabytes()
    {
        var line = File.ReadLines($"/proc/{_process.Id}/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return line is null ? double.NaN : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
    }

    private async Task WaitForHealthAsync()
    {
        using var channel = GrpcChannel.ForAddress(_address);
        for (var i = 0; i < 300; i++)
        {
            if (_process.HasExited) throw new InvalidOperationException("the server exited at start-up");
            try
            {
                if ((await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(2))).Status == HealthCheckResponse.Types.ServingStatus.Serving) return;
            }
            catch (RpcException)
            {
                // not yet
            }
            await Task.Delay(200);
        }
        throw new TimeoutException("the server did not start");
    }

    /// <summary>SIGKILL: the process ends wherever it is, as in a crash.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process.Dispose();
        if (_deleteFolderOnDispose) DeleteFolder(_folder);
    }

    public static void DeleteFolder(string folder)
    {
        try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "CratusRandomization.sln"))) return dir.FullName;
        throw new InvalidOperationException("run the benchmark from inside the repository");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed class Bearer(string token) : DelegatingHandler(new SocketsHttpHandler { EnableMultipleHttp2Connections = true })
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
            return base.SendAsync(request, cancellationToken);
        }
    }
}
