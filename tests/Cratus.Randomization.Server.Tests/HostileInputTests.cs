using System.Buffers.Binary;
using System.Net.Http.Headers;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using FsCheck;
using FsCheck.Fluent;
using Google.Protobuf;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using Grpc.Health.V1;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Cratus.Randomization.Server.Tests;

/// <summary>Limits and hostile input: every reply is a clean status, never INTERNAL, never a crash, nothing stored.</summary>
public abstract class HostileInputTests : OnEachDatabase
{
    private static readonly StatusCode[] Clean =
    [
        StatusCode.OK, StatusCode.InvalidArgument, StatusCode.FailedPrecondition, StatusCode.NotFound, StatusCode.AlreadyExists,
        StatusCode.PermissionDenied, StatusCode.Unauthenticated, StatusCode.ResourceExhausted,
    ];

    /// <summary>A unary call of <paramref name="path"/> with the message bytes exactly as given.</summary>
    internal static async Task<(StatusCode Status, string Detail)> RawCallAsync(TrialServer server, string token, string path, byte[] message)
    {
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var method = new Method<byte[], byte[]>(MethodType.Unary, parts[0], parts[1], Marshallers.Create(b => b, b => b), Marshallers.Create(b => b, b => b));
        try
        {
            await server.RawChannel(token).CreateCallInvoker().AsyncUnaryCall(method, null, new CallOptions(deadline: DateTime.UtcNow.AddSeconds(30)), message);
            return (StatusCode.OK, "");
        }
        catch (RpcException ex)
        {
            return (ex.StatusCode, ex.Status.Detail);
        }
    }

    private static List<string> UnaryMethods(TrialServer server) =>
        server.Services.GetRequiredService<EndpointDataSource>().Endpoints
            .Select(e => e.Metadata.GetMetadata<GrpcMethodMetadata>())
            .Where(m => m is not null && m.Method.Type == MethodType.Unary)
            .Select(m => m!.Method.FullName).Distinct().Order().ToList();

    private static async Task<long> StoredRowsAsync(TrialServer server)
    {
        var rows = await server.QueryAsync("""SELECT (SELECT COUNT(*) FROM "Participants") + (SELECT COUNT(*) FROM "AuditEvents") + (SELECT COUNT(*) FROM "AspNetUsers")""");
        return Convert.ToInt64(rows[0][0], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>A caller allowed to call the method, so that the message itself is what is tested.</summary>
    internal static string TokenFor(TrialServer server, string path)
    {
        var role = Enum.GetValues<TrialRole>().FirstOrDefault(r => PermissionMatrix.Allows(path, r), TrialRole.Monitor);
        return server.Token(role, $"fuzz-{role}", ["UM"]);
    }

    [ProviderFact]
    [Trait("Category", "Slow")]
    public async Task EveryRpc_RandomAndMutatedMessages_AlwaysGetACleanStatusAndStoreNothing()
    {
        await using var server = NewServer();
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "fuzzing" });
        var valid = Requests.Randomize("SCR-VALID").ToByteArray();
        var outcomes = new List<(string Path, StatusCode Status, string Detail)>();

        foreach (var path in UnaryMethods(server))
        {
            var token = TokenFor(server, path);
            // Random bytes, and a valid Randomize message with bytes flipped, truncated or repeated.
            var messages = Gen.ArrayOf(ArbMap.Default.GeneratorFor<byte>()).Sample(size: 40, numberOfSamples: 25).ToList();
            messages.AddRange(Gen.Choose(0, valid.Length - 1).SelectMany(i => Gen.Choose(0, 255).Select(b => Mutate(valid, i, (byte)b))).Sample(size: 10, numberOfSamples: 15));
            messages.Add([.. valid.Take(valid.Length / 2)]);
            messages.Add([.. valid, .. valid]);
            foreach (var message in messages)
            {
                var before = await StoredRowsAsync(server);
                var (status, detail) = await RawCallAsync(server, token, path, message);
                outcomes.Add((path, status, detail));
                // A refused call stores nothing. (A mutation can still be a valid request: doubling a message
                // repeats its fields, and a Randomize message is also a well-formed EnrollInCohort message.)
                if (status != StatusCode.OK) Assert.Equal(before, await StoredRowsAsync(server));
            }
        }

        Assert.All(outcomes, o => Assert.True(Clean.Contains(o.Status), $"{o.Path} answered {o.Status}: {o.Detail}{ServerLogOf(server, o.Detail)}"));
        Assert.All(outcomes, o => Assert.DoesNotContain("   at ", o.Detail, StringComparison.Ordinal));
        Assert.True(outcomes.Count(o => o.Status != StatusCode.OK) > outcomes.Count / 2, "the fuzzing mostly sent valid requests");
        var health = await new Health.HealthClient(server.Channel(token: null)).CheckAsync(new HealthCheckRequest());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
    }

    /// <summary>For an INTERNAL answer (it quotes a reference), what the server logged under that reference: the
    /// exception a developer needs, which the caller is rightly never shown.</summary>
    private static string ServerLogOf(TrialServer server, string detail)
    {
        var reference = System.Text.RegularExpressions.Regex.Match(detail, @"quote reference (\S+) ").Groups[1].Value;
        if (reference.Length == 0 || !Directory.Exists(server.LogFolder)) return "";
        var lines = Directory.EnumerateFiles(server.LogFolder).SelectMany(f =>
        {
            using var stream = new FileStream(f, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd().Split('\n').Where(l => l.Contains(reference, StringComparison.Ordinal)).ToList();
        });
        return Environment.NewLine + "server log: " + string.Join(Environment.NewLine, lines);
    }

    private static byte[] Mutate(byte[] message, int index, byte value)
    {
        var copy = (byte[])message.Clone();
        copy[index] = value;
        return copy;
    }

    /// <summary>
    /// Found by the fuzz test (one byte of the date of birth's year changed): a date of birth after the consent date
    /// has no age at consent. It is refused as ineligible, naming the field, and is never an INTERNAL failure.
    /// </summary>
    [ProviderFact]
    public async Task Randomize_DateOfBirthAfterConsent_IsRefusedAsIneligible_NotInternal()
    {
        await using var server = NewServer();
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "fuzzing" });
        var request = Requests.Randomize("SCR-DOB");
        request.Eligibility.DateOfBirth = new CalendarDate { Year = 2047, Month = 3, Day = 14 };

        var refused = await Assert.ThrowsAsync<RpcException>(() => server.Site().RandomizeAsync(request).ResponseAsync);

        Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);
        Assert.Equal("PARTICIPANT_INELIGIBLE", refused.GetRpcStatus()?.GetDetail<Google.Rpc.ErrorInfo>()?.Reason);
        Assert.Contains("date of birth is after the consent date", refused.Status.Detail, StringComparison.Ordinal);
    }

    /// <summary>Any byte array, as a Randomize request: FsCheck shrinks a failure to the smallest message that shows it.</summary>
    [ProviderFact]
    public async Task Randomize_AnyBytes_NeverInternal()
    {
        await using var server = NewServer();
        var token = server.Token(TrialRole.SiteCoordinator, "fuzz", ["UM"]);
        var property = Prop.ForAll(ArbMap.Default.ArbFor<byte[]>(), bytes =>
        {
            var (status, _) = RawCallAsync(server, token, "/cratus.randomization.v1.RandomizationService/Randomize", bytes).GetAwaiter().GetResult();
            return Clean.Contains(status);
        });
        property.QuickCheckThrowOnFailure();
        await Task.CompletedTask;
    }

    public static TheoryData<string, byte[], StatusCode> MalformedFrames => new()
    {
        { "length prefix longer than the body", Frame(0, 100, [1, 2, 3]), StatusCode.InvalidArgument },
        { "oversized frame", Frame(0, 64 * 1024 * 1024, []), StatusCode.ResourceExhausted },
        { "length prefix over 2 GiB", Frame(0, uint.MaxValue, []), StatusCode.ResourceExhausted },
        { "compressed flag without an encoding", Frame(1, 3, [1, 2, 3]), StatusCode.InvalidArgument },
        { "header cut short", [0, 0, 0], StatusCode.InvalidArgument },
        { "two messages in a unary call", [.. Frame(0, 0, []), .. Frame(0, 0, [])], StatusCode.InvalidArgument },
        { "unknown flag", Frame(7, 0, []), StatusCode.InvalidArgument },
        { "unparseable message", Frame(0, 1, [0]), StatusCode.InvalidArgument },
    };

    private static byte[] Frame(byte flag, uint length, byte[] body)
    {
        var frame = new byte[5 + body.Length];
        frame[0] = flag;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), length);
        body.CopyTo(frame, 5);
        return frame;
    }

    /// <summary>A GetTrial call whose body is <paramref name="body"/> exactly, over real HTTP/2: its gRPC status, message and ErrorInfo reason.</summary>
    private static async Task<(string Status, string Message, string? Reason)> SendFrameAsync(TrialServer server, byte[] body, string? encoding = null)
    {
        using var http = new HttpClient { BaseAddress = new Uri(server.Address!), DefaultRequestVersion = new Version(2, 0), DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/cratus.randomization.v1.TrialService/GetTrial")
        {
            Content = new ByteArrayContent(body), Version = new Version(2, 0), VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", server.Token(TrialRole.Monitor));
        request.Headers.TE.Add(new TransferCodingWithQualityHeaderValue("trailers"));
        if (encoding is not null) request.Headers.Add("grpc-encoding", encoding);

        using var response = await http.SendAsync(request);
        await response.Content.ReadAsByteArrayAsync();
        string? Read(string name) => response.Headers.TryGetValues(name, out var header) ? header.Single()
            : response.TrailingHeaders.TryGetValues(name, out var trailer) ? trailer.Single() : null;
        var status = Read("grpc-status") ?? $"missing ({response.Version} {(int)response.StatusCode} {response.Headers} {response.Content.Headers})";
        // The reason a program acts on travels in grpc-status-details-bin, as on every other refusal.
        var details = Read("grpc-status-details-bin") is { } bin ? Google.Rpc.Status.Parser.ParseFrom(Convert.FromBase64String(bin)) : null;
        var reason = details?.Details.Single(d => d.Is(Google.Rpc.ErrorInfo.Descriptor)).Unpack<Google.Rpc.ErrorInfo>().Reason;
        return (status, Uri.UnescapeDataString(Read("grpc-message") ?? ""), reason);
    }

    private static string Code(StatusCode code) => ((int)code).ToString(System.Globalization.CultureInfo.InvariantCulture);

    [ProviderTheory]
    [MemberData(nameof(MalformedFrames))]
    public async Task RawFrame_Malformed_GetsAClearStatus(string malformation, byte[] body, StatusCode expected)
    {
        await using var server = NewServer(onLoopback: true);

        var (status, message, reason) = await SendFrameAsync(server, body);

        Assert.Equal(Code(expected), status);
        Assert.NotEqual(Code(StatusCode.Internal), status);
        Assert.Equal(expected == StatusCode.ResourceExhausted ? "REQUEST_TOO_LARGE" : "MALFORMED_MESSAGE", reason);
        // A message a person reads: what is wrong, in words, never an exception.
        Assert.DoesNotContain("xception", message, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", message, StringComparison.Ordinal);
        if (expected == StatusCode.ResourceExhausted) Assert.Contains("larger than this service accepts (1048576 bytes)", message, StringComparison.Ordinal);
        _ = malformation;
    }

    /// <summary>Compressed requests are refused before anything is decompressed (the library does not bound what a message
    /// decompresses to); a compressed flag with the identity encoding is malformed.</summary>
    [ProviderTheory]
    [InlineData("gzip")]
    [InlineData("deflate")]
    [InlineData("identity")]
    public async Task RawFrame_Compressed_IsRefusedClearly(string encoding)
    {
        await using var server = NewServer(onLoopback: true);
        using var compressed = new MemoryStream();
        using (var gzip = new System.IO.Compression.GZipStream(compressed, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
            gzip.Write(new byte[100_000]);

        var (status, message, reason) = await SendFrameAsync(server, Frame(1, (uint)compressed.Length, compressed.ToArray()), encoding);

        Assert.Equal(Code(StatusCode.InvalidArgument), status);
        Assert.Equal("MALFORMED_MESSAGE", reason);
        Assert.Contains(encoding == "identity" ? "marked compressed" : "Compressed requests are not accepted", message, StringComparison.Ordinal);
    }

    [ProviderFact]
    public async Task RateLimit_OneUserBeyondTheBurst_IsResourceExhaustedWhileOthersGoOn()
    {
        await using var server = NewServer(false, new Dictionary<string, string> { ["Limits:PermitsPerSecond"] = "1", ["Limits:Burst"] = "3" });
        var busy = new TrialService.TrialServiceClient(server.Channel(server.Token(TrialRole.Monitor, "busy-user")));
        var statuses = new List<StatusCode>();
        for (var i = 0; i < 8; i++)
        {
            try
            {
                await busy.GetTrialAsync(new GetTrialRequest());
                statuses.Add(StatusCode.OK);
            }
            catch (RpcException ex)
            {
                statuses.Add(ex.StatusCode);
                Assert.Contains("Too many requests", ex.Status.Detail, StringComparison.Ordinal);
                Assert.Equal("RATE_LIMITED", ex.GetRpcStatus()?.GetDetail<Google.Rpc.ErrorInfo>()?.Reason);
            }
        }
        var other = await new TrialService.TrialServiceClient(server.Channel(server.Token(TrialRole.Monitor, "other-user"))).GetTrialAsync(new GetTrialRequest());

        Assert.InRange(statuses.Count(s => s == StatusCode.OK), 3, 4);
        Assert.Contains(StatusCode.ResourceExhausted, statuses);
        Assert.Equal("CRATUS", other.TrialId);
    }

    [ProviderFact]
    public async Task Request_OverTheSizeLimit_IsResourceExhaustedAndStoresNothing()
    {
        await using var server = NewServer(false, new Dictionary<string, string> { ["Limits:MaxRequestBytes"] = "4096" });
        var csv = "stratum,sequence,randomization_number,arm\n" + string.Concat(Enumerable.Range(1, 500).Select(i => $"UM/F,{i},R{i:D5},A\n"));

        var error = await Assert.ThrowsAsync<RpcException>(() => server.Statistician().ImportScheduleAsync(
            new ImportScheduleRequest { Csv = ByteString.CopyFromUtf8(csv), Reason = "too big" }).ResponseAsync);

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Equal(0L, Convert.ToInt64((await server.QueryAsync("""SELECT COUNT(*) FROM "ScheduleEntries" """))[0][0], System.Globalization.CultureInfo.InvariantCulture));
    }
}

public sealed class HostileInputTestsOnSqlite : HostileInputTests
{
    protected override TestDatabase Database => TestDatabase.Sqlite;
}

public sealed class HostileInputTestsOnPostgreSql : HostileInputTests, IRunsOnPostgreSql
{
    protected override TestDatabase Database => TestDatabase.PostgreSql;
}

public sealed class HostileInputTestsOnSqlServer : HostileInputTests, IRunsOnSqlServer
{
    protected override TestDatabase Database => TestDatabase.SqlServer;
}
