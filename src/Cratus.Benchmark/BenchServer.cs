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

/// <summary>The Release server as a process on a temporary SQLite file; optionally pre-filled with a large trial.</summary>
internal sealed class BenchServer : IAsyncDisposable
{
    private const string Issuer = "http://cratus-benchmark/";
    // The statistician who signs the schedule's generation (21 CFR Part 11: re-authentication with a password).
    private const string StatisticianPassword = "benchmark-statistician-2026";
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
        using var rsa = RSA.Create(2048);
        var signingKey = rsa.ExportPkcs8PrivateKeyPem();
        return new BenchDeployment(folder, signingKey, new Dictionary<string, string>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Benchmark",
            ["Database__SqlitePath"] = Path.Combine(folder, "cratus.db"),
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
        await server.CreateAccountsAsync();
        return server;
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

    /// <summary>The accounts the benchmark's tokens name (the server refuses tokens of accounts it does not hold),
    /// written into the fresh database: the statistician, with a password to sign with, and the site coordinator.</summary>
    private async Task CreateAccountsAsync()
    {
        await using var db = new SqliteConnection($"Data Source={Path.Combine(_folder, "cratus.db")};Default Timeout=60");
        await db.OpenAsync();
        foreach (var (role, sites, password) in new[] { ("statistician", "", StatisticianPassword), ("site_coordinator", "UM", null) })
        {
            var user = "bench-" + role;
            await using var insert = db.CreateCommand();
            insert.CommandText = """
                INSERT INTO "AspNetUsers" ("Id", "UserName", "NormalizedUserName", "EmailConfirmed", "PhoneNumberConfirmed", "TwoFactorEnabled",
                    "LockoutEnabled", "AccessFailedCount", "Role", "Sites", "Active", "MustChangePassword", "SecurityStamp", "ConcurrencyStamp", "PasswordHash", "FullName")
                VALUES ($id, $user, $normalized, 0, 0, 0, 1, 0, $role, $sites, 1, 0, $id, $id, $hash, $user)
                ON CONFLICT DO NOTHING
                """;
            var id = Guid.NewGuid().ToString();
            insert.Parameters.AddWithValue("$id", id);
            insert.Parameters.AddWithValue("$user", user);
            insert.Parameters.AddWithValue("$normalized", user.ToUpperInvariant());
            insert.Parameters.AddWithValue("$role", role);
            insert.Parameters.AddWithValue("$sites", sites);
            insert.Parameters.AddWithValue("$hash", password is null ? DBNull.Value : new Microsoft.AspNetCore.Identity.PasswordHasher<object>().HashPassword(user, password));
            await insert.ExecuteNonQueryAsync();
        }
    }

    private static string ServerDll()
    {
        var dll = Path.Combine(Repository.Root(), "src", "Cratus.Randomization.Server", "bin", "Release", "net10.0", "Cratus.Randomization.Server.dll");
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
                "ProductCode", "EnrolledAt", "EnrolledBy", "EnrolledByRole", "ConsentDate", "AgeAtConsent", "Sex", "ClinicalFrailtyScale", "MmseScore", "Phase", "Status")
            SELECT 'P-PRE' || printf('%07d', $n), 'UM', 'PRE' || $n, 'prefill-' || $n, e."Stratum", e."Sequence", e."Id",
                'K-PRE' || printf('%07d', $n), '2026-01-01 00:00:00+00:00', 'prefill', 'site_coordinator', '2026-01-01', 70, $sex, 5, 28, 'Randomized', 'Randomized'
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

    public Task<string> RandomizeOneAsync() => RandomizeAsync("first");

    /// <summary>Randomizes one participant with this screening id at site UM and returns the participant id.</summary>
    public async Task<string> RandomizeAsync(string screening) =>
        (await new RandomizationService.RandomizationServiceClient(Channel(Token("site_coordinator", "UM"))).RandomizeAsync(Request(screening))).Assignment.ParticipantId;

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

    public GrpcChannel[] Channels(bool anonymous = false) => Channels(anonymous ? null : Token("site_coordinator", "UM"));

    /// <summary>Four channels (so four HTTP/2 connections) that send this token, or none.</summary>
    public GrpcChannel[] Channels(string? token) => [.. Enumerable.Range(0, 4).Select(_ => Channel(token))];

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
