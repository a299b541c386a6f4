using System.ComponentModel.DataAnnotations;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http.Timeouts;
using Microsoft.AspNetCore.RateLimiting;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Grpc;
using Cratus.Randomization.Server.Security;
using Google.Protobuf;
using Grpc.AspNetCore.Server;
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

    /// <summary>Requests one address may make per minute to the OpenID Connect endpoints (token, device, revocation,
    /// introspection), in bursts of up to a tenth of this: guessing passwords, secrets or device codes stays slow.</summary>
    [Range(1, 100_000)] public int TokenEndpointPermitsPerMinute { get; set; } = 120;
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

    /// <summary>
    /// A token bucket per client address on the OpenID Connect endpoints, ahead of the server that answers them; a
    /// refusal is HTTP 429 with Retry-After and an RFC 6749 style JSON error.
    /// </summary>
    public static WebApplication UseTokenEndpointLimits(this WebApplication app)
    {
        var limits = app.Services.GetRequiredService<IOptions<LimitOptions>>().Value;
        var options = new RateLimiterOptions
        {
            GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http =>
                RateLimitPartition.GetTokenBucketLimiter("address:" + http.Connection.RemoteIpAddress, _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = Math.Max(1, limits.TokenEndpointPermitsPerMinute / 10),
                    TokensPerPeriod = Math.Max(1, limits.TokenEndpointPermitsPerMinute / 60),
                    ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                    QueueLimit = 0,
                    AutoReplenishment = true,
                })),
            OnRejected = async (context, ct) =>
            {
                context.HttpContext.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                context.HttpContext.Response.Headers.RetryAfter = "1";
                await context.HttpContext.Response.WriteAsJsonAsync(new Dictionary<string, string>
                {
                    ["error"] = "temporarily_unavailable",
                    ["error_description"] = "Too many requests from this address; wait a second and retry.",
                }, ct);
            },
        };
        app.UseWhen(http => http.Request.Path.StartsWithSegments("/connect") && !http.Request.Path.StartsWithSegments("/connect/verify")
            && !http.Request.Path.StartsWithSegments("/connect/authorize"), branch => branch.UseRateLimiter(options));
        return app;
    }

    public static WebApplication UseCallLimits(this WebApplication app)
    {
        app.UseRequestTimeouts();
        app.UseRateLimiter();
        app.UseMiddleware<UnreadableRequests>();
        return app;
    }
}

/// <summary>
/// grpc-dotnet reads a unary request before any interceptor runs, and refuses a frame over MaxReceiveMessageSize
/// (Limits:MaxRequestBytes) from its length prefix alone, but it answers a frame or message it cannot read with
/// INTERNAL or UNKNOWN and no reason. This turns only those answers, after the call, into the service's own:
/// INVALID_ARGUMENT (MALFORMED_MESSAGE) or RESOURCE_EXHAUSTED (REQUEST_TOO_LARGE), with a message a person
/// understands. It reads no request bytes. It also refuses compressed requests by their header: grpc-dotnet does not
/// bound the size a message decompresses to, and the messages of this service are small.
/// </summary>
internal sealed class UnreadableRequests(RequestDelegate next, IOptions<LimitOptions> options)
{
    public async Task InvokeAsync(HttpContext http)
    {
        var encoding = http.Request.Headers["grpc-encoding"].ToString();
        if (encoding.Length > 0 && encoding != "identity" && http.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) == true)
        {
            RichStatus.Write(http.Response, StatusCode.InvalidArgument, ErrorReason.MalformedMessage,
                "Compressed requests are not accepted: the messages of this service are small; send them uncompressed.");
            return;
        }
        await next(http);
        // A call that ended before its reply started (its status is still in the headers) with a status that the
        // service's own code did not make (those always carry details).
        if (http.Response.HasStarted || http.Response.Headers.ContainsKey("grpc-status-details-bin")
            || http.Features.Get<IServerCallContextFeature>()?.ServerCallContext.Status is not { } status
            || Describe(status, http, options.Value.MaxRequestBytes) is not (var code, var reason, var message)) return;
        RichStatus.Write(http.Response, code, reason, message);
    }

    /// <summary>What grpc-dotnet meant, for the failures it reports while reading a request (its texts are fixed).</summary>
    private static (StatusCode, ErrorReason, string)? Describe(Status status, HttpContext http, int limit) => status switch
    {
        { StatusCode: StatusCode.ResourceExhausted } => TooLarge(limit),
        // A length prefix over 2 GiB.
        { StatusCode: StatusCode.Unknown, DebugException: IOException failure } when failure.Message.StartsWith("Message too large", StringComparison.Ordinal) => TooLarge(limit),
        { StatusCode: StatusCode.Internal, Detail: "Incomplete message." } =>
            Malformed("The request ends before its message does: the gRPC message header or its length prefix promises more bytes than were sent."),
        { StatusCode: StatusCode.Internal, Detail: "Additional data after the message received." } =>
            Malformed("A unary request carries exactly one message; this one has more bytes after it."),
        { StatusCode: StatusCode.Internal, Detail: "Request did not include grpc-encoding value with compressed message." or "Request sent 'identity' grpc-encoding value with compressed message." } =>
            Malformed("The message is marked compressed but the request names no grpc-encoding."),
        { StatusCode: StatusCode.Unknown, DebugException: InvalidDataException } =>
            Malformed("The gRPC message header has an unknown compressed flag (only 0 and 1 exist)."),
        { StatusCode: StatusCode.Unknown, DebugException: InvalidProtocolBufferException } =>
            Malformed($"The request is not a valid request message of {http.Request.Path}."),
        _ => null,
    };

    private static (StatusCode, ErrorReason, string) TooLarge(int limit) =>
        (StatusCode.ResourceExhausted, ErrorReason.RequestTooLarge, $"The request message is larger than this service accepts ({limit} bytes).");

    private static (StatusCode, ErrorReason, string) Malformed(string message) => (StatusCode.InvalidArgument, ErrorReason.MalformedMessage, message);
}
