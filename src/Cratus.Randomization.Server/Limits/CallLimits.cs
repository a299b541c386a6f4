using System.Buffers.Binary;
using System.ComponentModel.DataAnnotations;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http.Timeouts;
using Microsoft.AspNetCore.RateLimiting;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Grpc;
using Cratus.Randomization.Server.Security;
using Grpc.Core;
using Microsoft.Extensions.Options;

namespace Cratus.Randomization.Server.Limits;

/// <summary>What one call and one user may use. Bound from the "Limits" section.</summary>
public sealed class LimitOptions
{
    public const string Section = "Limits";

    /// <summary>Largest request message accepted (the schedule import is the largest).</summary>
    [Range(1024, 64 * 1024 * 1024)] public int MaxRequestBytes { get; set; } = 1024 * 1024;

    /// <summary>Longest a call may run on the server, whatever deadline the client set.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")] public TimeSpan CallTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long the first answer to a write is kept for its retries. It may hold a secret shown once (a first
    /// password, a schedule seed, an arm revealed in an emergency), so it is not kept for ever: after this, a retry
    /// with the same request id is refused (REQUEST_ANSWER_EXPIRED), never carried out again, and the answer is erased.
    /// </summary>
    [Range(typeof(TimeSpan), "00:01:00", "30.00:00:00")] public TimeSpan WriteAnswerRetention { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Requests a user (or, before signing in, an address) may make per second, sustained.</summary>
    [Range(1, 100_000)] public int PermitsPerSecond { get; set; } = 20;

    /// <summary>Requests a user may make in a burst above the sustained rate.</summary>
    [Range(1, 100_000)] public int Burst { get; set; } = 60;
}

public static class CallLimits
{
    public const string PerUser = "per-user";

    /// <summary>
    /// Server-side deadlines (ASP.NET Core request timeouts, which cancel the call's token), and a per-user token
    /// bucket (ASP.NET Core's rate limiter) whose refusals are answered as gRPC RESOURCE_EXHAUSTED.
    /// </summary>
    public static WebApplicationBuilder AddCallLimits(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<LimitOptions>().BindConfiguration(LimitOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        var limits = builder.Configuration.GetSection(LimitOptions.Section).Get<LimitOptions>() ?? new LimitOptions();
        builder.Services.AddRequestTimeouts(o => o.DefaultPolicy = new RequestTimeoutPolicy { Timeout = limits.CallTimeout });
        builder.Services.AddRateLimiter(o =>
        {
            o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http =>
            {
                // Health checks are not rate limited: load balancers poll them.
                if (http.Request.Path.StartsWithSegments("/grpc.health.v1.Health")) return RateLimitPartition.GetNoLimiter("health");
                // The subject under the configured claim name, read as the access check reads it.
                var caller = http.RequestServices.GetRequiredService<CallerResolver>().Resolve(http.User);
                var who = caller is not null ? "user:" + caller.Subject : "address:" + http.Connection.RemoteIpAddress;
                return RateLimitPartition.GetTokenBucketLimiter(who, _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = limits.Burst,
                    TokensPerPeriod = limits.PermitsPerSecond,
                    ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                    QueueLimit = 0,
                    AutoReplenishment = true,
                });
            });
            o.OnRejected = (context, _) =>
            {
                RichStatus.Write(context.HttpContext.Response, StatusCode.ResourceExhausted, ErrorReason.RateLimited, "Too many requests from this user; slow down and retry in a second (RESOURCE_EXHAUSTED).");
                return ValueTask.CompletedTask;
            };
        });
        return builder;
    }

    public static WebApplication UseCallLimits(this WebApplication app)
    {
        app.UseRequestTimeouts();
        app.UseRateLimiter();
        app.UseMiddleware<GrpcFrameGuard>();
        return app;
    }
}

/// <summary>
/// Checks the framing of a unary gRPC request before the gRPC library reads it, so that a malformed frame gets a
/// clear status instead of the library's INTERNAL: a length prefix longer than the body, a frame over the size limit,
/// a compressed flag without a declared encoding. Request bodies of this service are small; the guard reads at most
/// the size limit and hands the body on unchanged.
/// </summary>
internal sealed class GrpcFrameGuard(RequestDelegate next, IOptions<LimitOptions> options)
{

    public async Task InvokeAsync(HttpContext http)
    {
        if (!IsUnaryGrpc(http.Request))
        {
            await next(http);
            return;
        }
        var limit = options.Value.MaxRequestBytes;
        http.Request.EnableBuffering(bufferThreshold: 64 * 1024, bufferLimit: limit + 5 + 1);
        var header = new byte[5];
        var read = await ReadAsync(http.Request.Body, header, http.RequestAborted);
        string? problem = null;
        var status = StatusCode.InvalidArgument;
        if (read is > 0 and < 5)
        {
            problem = "The request ends inside the gRPC message header.";
        }
        else if (read == 5)
        {
            var compressed = header[0];
            var length = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(1));
            if (compressed > 1)
                problem = "The gRPC message header has an unknown compressed flag.";
            else if (compressed == 1 && !http.Request.Headers.ContainsKey("grpc-encoding"))
                problem = "The message is marked compressed but the request names no grpc-encoding.";
            else if (compressed == 1)
                problem = "Compressed requests are not accepted: the messages of this service are small; send them uncompressed.";
            else if (length > limit)
                (problem, status) = ($"The message is {length} bytes; the limit is {limit}.", StatusCode.ResourceExhausted);
            else
            {
                var body = new byte[length];
                var got = await ReadAsync(http.Request.Body, body, http.RequestAborted);
                if (got < length) problem = $"The message is shorter ({got} bytes) than its length prefix ({length} bytes).";
                else if (await ReadAsync(http.Request.Body, new byte[1], http.RequestAborted) > 0) problem = "A unary request carries exactly one message.";
                else if (RequestParsers.Value.TryGetValue(http.Request.Path.Value ?? "", out var parser) && !Parses(parser, body))
                    problem = $"The request is not a valid {parser.Descriptor.Name} message.";
            }
        }
        if (problem is not null)
        {
            RichStatus.Write(http.Response, status, status == StatusCode.ResourceExhausted ? ErrorReason.RequestTooLarge : ErrorReason.MalformedMessage, problem);
            return;
        }
        http.Request.Body.Position = 0;
        await next(http);
    }

    /// <summary>The request message type of every unary method this service maps, by path.</summary>
    private static readonly Lazy<Dictionary<string, (Google.Protobuf.MessageParser Parser, Google.Protobuf.Reflection.MessageDescriptor Descriptor)>> RequestParsers = new(() =>
        new[] { Protos.V1.RandomizationServiceReflection.Descriptor, Protos.V1.PharmacyServiceReflection.Descriptor, Protos.V1.TrialServiceReflection.Descriptor,
                Protos.V1.ScheduleServiceReflection.Descriptor, Protos.V1.UnblindingServiceReflection.Descriptor, Protos.V1.AuditServiceReflection.Descriptor,
                Protos.V1.IdentityServiceReflection.Descriptor, Protos.V1.AdministrationServiceReflection.Descriptor, Protos.V1.DoseEscalationServiceReflection.Descriptor,
                global::Grpc.Health.V1.HealthReflection.Descriptor }
            .SelectMany(file => file.Services)
            .SelectMany(service => service.Methods.Where(m => !m.IsClientStreaming && !m.IsServerStreaming))
            .ToDictionary(m => $"/{m.Service.FullName}/{m.Name}", m => (m.InputType.Parser, m.InputType), StringComparer.Ordinal));

    private static bool Parses((Google.Protobuf.MessageParser Parser, Google.Protobuf.Reflection.MessageDescriptor Descriptor) target, byte[] body)
    {
        try
        {
            target.Parser.ParseFrom(body);
            return true;
        }
        catch (Google.Protobuf.InvalidProtocolBufferException)
        {
            return false;
        }
    }

    private static bool IsUnaryGrpc(HttpRequest request) =>
        request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) == true
        && !request.Path.StartsWithSegments("/grpc.reflection.v1alpha.ServerReflection")
        && !request.Path.StartsWithSegments("/grpc.reflection.v1.ServerReflection")
        && !request.Path.StartsWithSegments("/grpc.health.v1.Health/Watch");

    private static async Task<int> ReadAsync(Stream stream, byte[] buffer, CancellationToken ct)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var n = await stream.ReadAsync(buffer.AsMemory(total), ct);
            if (n == 0) break;
            total += n;
        }
        return total;
    }
}
