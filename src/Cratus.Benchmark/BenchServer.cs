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

namespace Cratus.Benchmark;

/// <summary>The Release server as a process on a temporary SQLite file or a fresh database of another store; optionally
/// pre-filled with a large trial (SQLite).</summary>
internal sealed class BenchServer : IAsyncDisposable
{
    private const string Issuer = "http://cratus-benchmark/";
    // The statistician who signs the schedule's generation (21 CFR Part 11: re-authentication with a password).
    private const string StatisticianPassword = "benchmark-statistician-2026";
    private readonly Process _process;
    private readonly string _folder;
    private readonly string _signingKey;
    private readonly string _address;
    private readonly BenchDeployment _deployment;
    private readonly bool _removeDeploymentOnDispose;

    private BenchServer(Process process, BenchDeployment deployment, string address, bool removeDeploymentOnDispose)
    {
        _process = process;
        _deployment = deployment;
        _folder = deployment.Folder;
        _signingKey = deployment.SigningKey;
        _address = address;
        _removeDeploymentOnDispose = removeDeploymentOnDispose;
    }

    /// <summary>A fresh deployment on <paramref name="store"/> with one server, its accounts and its schedule.</summary>
    public static async Task<BenchServer> StartAsync(int scaleParticipants, BenchStore? store = null)
    {
        if (scaleParticipants > 0 && store is { Kind: not StoreKind.Sqlite }) throw new ArgumentException("the large trial is pre-filled on SQLite only");
        var server = await LaunchAsync(await DeployAsync(scaleParticipants, store ?? BenchStore.Sqlite), removeDeploymentOnDispose: true);
        try
        {
            await server.CreateAccountsAsync();
            await server.GenerateScheduleAsync();
            server.GenerationPeakMegabytes = server.PeakMemoryMegabytes();
            if (scaleParticipants > 0) await server.PrefillAsync(scaleParticipants);
            return server;
        }
        catch
        {
            // No server process outlives a failed run.
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>A folder with a trial definition, and the settings (keys included) every server on it runs with. With
    /// <paramref name="secondSite"/>, the trial has a second site (four strata: two sites by two sexes) and a list of
    /// <paramref name="target"/> entries per stratum.</summary>
    public static async Task<BenchDeployment> DeployAsync(int scaleParticipants, BenchStore store, bool secondSite = false, int? target = null)
    {
        var folder = Directory.CreateTempSubdirectory("cratus-bench-").FullName;
        var definition = File.ReadAllText(Path.Combine(Path.GetDirectoryName(ServerDll())!, "trial-definitions", "cratus-phase2-only.json"))
            .Replace("\"targetParticipants\": 30", $"\"targetParticipants\": {target ?? Target(scaleParticipants)}", StringComparison.Ordinal);
        string[] sites = secondSite ? ["UM", SecondSite] : ["UM"];
        if (secondSite)
            definition = definition.Replace("""{ "code": "UM", "name": "University of Miami, Interdisciplinary Stem Cell Institute" }""",
                """{ "code": "UM", "name": "University of Miami, Interdisciplinary Stem Cell Institute" }, { "code": "BENCH2", "name": "Benchmark second site" }""", StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(folder, "trial.json"), definition);
        using var rsa = RSA.Create(2048);
        var signingKey = rsa.ExportPkcs8PrivateKeyPem();
        var (storeSettings, database) = await store.NewDatabaseAsync(folder);
        var settings = new Dictionary<string, string>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Benchmark",
            ["Token__Issuer"] = Issuer,
            ["Token__SigningKeys__0"] = signingKey,
            ["Token__RequireHttps"] = "false",
            // The benchmark reaches the service over gRPC only; its web port takes any free one.
            ["Kestrel__Endpoints__Web__Url"] = "http://127.0.0.1:0",
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
        };
        foreach (var (k, v) in storeSettings) settings[k] = v;
        return new BenchDeployment(folder, signingKey, settings, sites, store, database);
    }

    /// <summary>The second site of a four-strata deployment.</summary>
    public const string SecondSite = "BENCH2";

    /// <summary>Starts a server process on a deployment: the first time, or again after it was killed.</summary>
    public static async Task<BenchServer> LaunchAsync(BenchDeployment deployment, bool removeDeploymentOnDispose)
    {
        var dll = ServerDll();
        var port = FreePort();
        var start = new ProcessStartInfo("dotnet", dll) { WorkingDirectory = Path.GetDirectoryName(dll)!, UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (k, v) in deployment.Settings) start.Environment[k] = v;
        start.Environment["Kestrel__Endpoints__Grpc__Url"] = $"http://127.0.0.1:{port}";
        var process = Process.Start(start)!;
        var server = new BenchServer(process, deployment, $"http://127.0.0.1:{port}", removeDeploymentOnDispose);
        // The server's own line when it cannot start ("cratus-server: cannot start: ..."), to pass on.
        process.OutputDataReceived += (_, e) => server.Remember(e.Data);
        process.ErrorDataReceived += (_, e) => server.Remember(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await server.WaitForHealthAsync();
        }
        catch (InvalidOperationException) when (deployment.Store.Kind == StoreKind.SqlServer)
        {
            await server.DisposeAsync();
            throw new InvalidOperationException($"this server does not start on SQL Server (Database:Provider=SqlServer): {server._failure ?? "it exited at start-up"}");
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
        return server;
    }

    private string? _failure;

    private void Remember(string? line)
    {
        if (line is not null && line.Contains("cannot start", StringComparison.Ordinal)) _failure ??= line.Trim();
    }

    /// <summary>Generates the schedule as a statistician who signs it: re-authenticates, then signs as author.</summary>
    public async Task GenerateScheduleAsync()
    {
        var statistician = Channel(Token("statistician"));
        var trialId = (await new TrialService.TrialServiceClient(statistician).GetTrialAsync(new GetTrialRequest())).TrialId;
        var proof = await new SignatureService.SignatureServiceClient(statistician).ReauthenticateAsync(new ReauthenticateRequest
            { Action = SignedAction.ScheduleGeneration, RecordId = trialId, Password = StatisticianPassword });
        await new ScheduleService.ScheduleServiceClient(statistician).GenerateScheduleAsync(new GenerateScheduleRequest
        {
            RequestId = Guid.NewGuid().ToString(), Reason = "benchmark",
            Signature = new ElectronicSignature { SigningProof = proof.SigningProof, Meaning = SignatureMeaning.Authorship },
        }, deadline: DateTime.UtcNow.AddMinutes(10));
    }

    /// <summary>
    /// The accounts the benchmark's tokens name (the server refuses tokens of accounts it does not hold), made the way
    /// an operator makes them, over gRPC, so on every store alike: the first administrator with the deployment's
    /// bootstrap secret; then, by that administrator, the statistician (who sets a password to sign with), the site
    /// coordinator of the deployment's sites, the pharmacist and the monitor. Once per deployment, on its first server.
    /// </summary>
    public async Task CreateAccountsAsync()
    {
        await new IdentityService.IdentityServiceClient(Channel(null)).BootstrapAdministratorAsync(new BootstrapAdministratorRequest
        {
            BootstrapSecret = _deployment.Settings["Identity__BootstrapSecret"], UserName = "bench-administrator",
            Password = StatisticianPassword + "-administrator", FullName = "Benchmark Administrator",
        });
        var administration = new AdministrationService.AdministrationServiceClient(Channel(Token("administrator")));
        foreach (var (role, sites) in new[] { ("statistician", Array.Empty<string>()), ("site_coordinator", _deployment.Sites), ("pharmacist", []), ("monitor", []) })
        {
            var created = await administration.CreateUserAsync(new CreateUserRequest
            {
                UserName = "bench-" + role, Role = role, Sites = { sites }, Reason = "benchmark", RequestId = Guid.NewGuid().ToString(),
                FullName = "Benchmark " + role.Replace('_', ' '),
            });
            if (role == "statistician")
                await new IdentityService.IdentityServiceClient(Channel(Token(role))).ChangePasswordAsync(new ChangePasswordRequest
                    { CurrentPassword = created.InitialPassword, NewPassword = StatisticianPassword });
        }
    }

    /// <summary>Registers a site system at the deployment's first site, as an administrator does; its client secret.</summary>
    public async Task<string> RegisterSiteSystemAsync(string clientId) =>
        (await new AdministrationService.AdministrationServiceClient(Channel(Token("administrator"))).RegisterSiteSystemAsync(new RegisterSiteSystemRequest
        {
            ClientId = clientId, DisplayName = "Benchmark load generator", Sites = { Sites[0] }, Reason = "benchmark", RequestId = Guid.NewGuid().ToString(),
        })).ClientSecret;

    /// <summary>The server's gRPC address.</summary>
    public string Address => _address;

    /// <summary>The store the server is on.</summary>
    public BenchStore Store => _deployment.Store;

    /// <summary>The sites the deployment's site coordinator serves (and its tokens name).</summary>
    public string[] Sites => _deployment.Sites;

    /// <summary>The folder of the server build to run (<c>--server</c>), or null for this repository's Release build. A
    /// baseline build of another commit is measured this way next to this one, in the same run.</summary>
    public static string? ServerFolder { get; set; }

    private static string ServerDll()
    {
        var dll = ServerFolder is not null ? Path.Combine(ServerFolder, "Cratus.Randomization.Server.dll")
            : Path.Combine(Repository.Root(), "src", "Cratus.Randomization.Server", "bin", "Release", "net10.0", "Cratus.Randomization.Server.dll");
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
                "ProductCode", "EnrolledAt", "EnrolledBy", "EnrolledByRole", "ConsentDate", "AgeAtConsent", "Sex", "ClinicalFrailtyScale", "MmseScore", "Phase", "Status", "AllocationSeal")
            SELECT 'P-PRE' || printf('%07d', $n), 'UM', 'PRE' || $n, 'prefill-' || $n, e."Stratum", e."Sequence", e."Id",
                'K-PRE' || printf('%07d', $n), '2026-01-01 00:00:00+00:00', 'prefill', 'site_coordinator', '2026-01-01', 70, $sex, 5, 28, 'Randomized', 'Randomized', $seal
            FROM "ScheduleEntries" e WHERE e."Stratum" = $stratum AND e."Sequence" = $sequence
            """;
        var n = insert.Parameters.Add("$n", SqliteType.Integer);
        var sex = insert.Parameters.Add("$sex", SqliteType.Text);
        var stratum = insert.Parameters.Add("$stratum", SqliteType.Text);
        var sequence = insert.Parameters.Add("$sequence", SqliteType.Integer);
        // A well-formed seal under the active key that does not verify: the prefilled rows stand for old randomizations
        // the measured calls never read (a read of one would fail closed, DATA_LOSS, as for a row edited in the database).
        insert.Parameters.AddWithValue("$seal", "k1:" + Convert.ToBase64String(new byte[32]));
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

    /// <summary>The server's peak memory (VmHWM, MB) from its start until its schedule was generated.</summary>
    public double GenerationPeakMegabytes { get; private set; }

    public Task<string> RandomizeOneAsync() => RandomizeAsync("first");

    /// <summary>Randomizes one participant with this screening id at site UM and returns the participant id.</summary>
    public async Task<string> RandomizeAsync(string screening) =>
        (await new RandomizationService.RandomizationServiceClient(Channel(Token("site_coordinator", Sites))).RandomizeAsync(Request(screening))).Assignment.ParticipantId;

    /// <summary>A Randomize request for a new participant with this screening id at <paramref name="site"/>: eligible,
    /// female or male by the screening id, so a run of them fills both strata of the site.</summary>
    public static RandomizeRequest Request(string screening, string site = "UM") => new()
    {
        // One request id (a UUID, as every write needs) per participant, the same on every retry of it.
        RequestId = new Guid(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes("bench-" + site + "-" + screening)).AsSpan(0, 16)).ToString(),
        SiteCode = site,
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

    public GrpcChannel[] Channels(bool anonymous = false) => Channels(anonymous ? null : Token("site_coordinator", Sites));

    /// <summary>Four channels (so four HTTP/2 connections) that send this token, or none.</summary>
    public GrpcChannel[] Channels(string? token) => [.. Enumerable.Range(0, 4).Select(_ => Channel(token))];

    public GrpcChannel Channel(string? token) => Channel(_address, token);

    /// <summary>A channel to <paramref name="address"/> (its own HTTP/2 connection) that sends this token, or none.</summary>
    public static GrpcChannel Channel(string address, string? token) => GrpcChannel.ForAddress(address, new GrpcChannelOptions
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
            // A UAT or training server takes tokens for its mode's audience only (TrialModes.Audience).
            Audience = _deployment.Settings.TryGetValue("Trial__Mode", out var mode) && mode != "Production" ? "cratus-randomization/" + mode.ToLowerInvariant() : "cratus-randomization",
            Subject = new ClaimsIdentity(claims),
            Expires = DateTime.UtcNow.AddHours(2),
            TokenType = "at+jwt",
            SigningCredentials = SigningCredentials(),
        });
    }

    /// <summary>RS256 with the deployment's key, as the server's own OpenID Connect server signs.</summary>
    private SigningCredentials SigningCredentials()
    {
        var rsa = RSA.Create();
        rsa.ImportFromPem(_signingKey);
        return new SigningCredentials(new RsaSecurityKey(rsa), SecurityAlgorithms.RsaSha256);
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
        // Up to three minutes: a start on a machine loaded by other work (builds, other servers) takes more than one.
        var until = DateTime.UtcNow.AddMinutes(3);
        while (DateTime.UtcNow < until)
        {
            if (_process.HasExited)
            {
                _process.WaitForExit();
                throw new InvalidOperationException(_failure ?? $"the server exited at start-up (exit code {_process.ExitCode})");
            }
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
        if (_removeDeploymentOnDispose) await _deployment.RemoveAsync();
    }

    public static void DeleteFolder(string folder)
    {
        try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
    }

    /// <summary>A free TCP port on loopback.</summary>
    public static int FreePort()
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
