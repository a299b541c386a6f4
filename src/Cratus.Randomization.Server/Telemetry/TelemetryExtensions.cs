using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Cratus.Randomization.Server.Application;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Options;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Cratus.Randomization.Server.Telemetry;

public static class TelemetryExtensions
{
    /// <summary>The service name every span and metric carries.</summary>
    public const string ServiceName = "cratus-randomization";

    /// <summary>
    /// OpenTelemetry (README, "Telemetry"): the service's own metrics (<see cref="TrialMetrics"/>), ASP.NET Core's and the
    /// runtime's, for the Prometheus scrape endpoint and, when a collector is configured, OTLP; traces (gRPC method,
    /// status and timings; EF Core commands without their SQL) only when a collector is configured, so an unwatched
    /// server pays nothing for them. Refuses to start outside Development with a scrape credential from the repository.
    /// </summary>
    public static WebApplicationBuilder AddTrialTelemetry(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<TelemetryOptions>().BindConfiguration(TelemetryOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<TelemetryOptions>>(new TelemetryOptionsValidation(builder.Environment.IsDevelopment()));
        builder.Services.AddSingleton<TrialMetrics>();
        builder.Services.AddSingleton<CallTelemetryInterceptor>();
        // Outermost, so that it sees the status the caller gets (after the error interceptor's translation).
        builder.Services.Configure<GrpcServiceOptions>(o =>
        {
            o.Interceptors.Add<CallTelemetryInterceptor>();
            var registration = o.Interceptors[^1];
            o.Interceptors.RemoveAt(o.Interceptors.Count - 1);
            o.Interceptors.Insert(0, registration);
        });
        ObserveUseCases(builder.Services);

        var scrape = !string.IsNullOrWhiteSpace(builder.Configuration[$"{TelemetryOptions.Section}:{nameof(TelemetryOptions.ScrapeToken)}"]);
        var otlp = TelemetryOptions.OtlpEndpointOf(builder.Configuration);
        var telemetry = builder.Services.AddOpenTelemetry().ConfigureResource(r => r.AddService(ServiceName));
        telemetry.WithMetrics(metrics =>
        {
            metrics.AddMeter(TrialMetrics.MeterName, "System.Runtime").AddAspNetCoreInstrumentation();
            if (scrape) metrics.AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 1000);
            if (otlp is not null) metrics.AddOtlpExporter(o => o.Endpoint = new Uri(otlp));
        });
        if (otlp is not null)
        {
            telemetry.WithTracing(tracing => tracing
                .AddAspNetCoreInstrumentation(o =>
                {
                    o.RecordException = false;
                    o.Filter = http => !IsScrape(http);
                    o.EnrichWithHttpResponse = (activity, response) => SpanRedaction.UseRoute(activity, response.HttpContext);
                })
                .AddEntityFrameworkCoreInstrumentation(o =>
                {
                    o.EnrichWithIDbCommand = (activity, _) => SpanRedaction.RemoveQueryText(activity);
                })
                .AddProcessor(new SpanRedaction())
                .AddOtlpExporter(o => o.Endpoint = new Uri(otlp)));
        }
        return builder;

        bool IsScrape(HttpContext http) =>
            http.Request.Path.Equals(builder.Configuration[$"{TelemetryOptions.Section}:{nameof(TelemetryOptions.ScrapePath)}"] ?? "/metrics", StringComparison.Ordinal);
    }

    /// <summary>
    /// The Prometheus scrape endpoint (if Telemetry:ScrapeToken is set), ahead of the rest of the pipeline: it answers
    /// only a bearer of the scrape credential (a credential of its own, not a user's token), and with
    /// Telemetry:ManagementPort only on that port, which then serves nothing else.
    /// </summary>
    public static WebApplication UseTrialMetricsEndpoint(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<TelemetryOptions>>().Value;
        // The instruments exist from the start (the outbox gauges among them), not from the first call.
        app.Services.GetRequiredService<TrialMetrics>();
        // The providers listen from the start too, not from when the hosted services start (after the migrations):
        // start-up's database work is traced and measured, and EF Core does not carry into the first calls what it saw
        // then. It remembers for a second, per pooled context, that nobody listened to the commands it created, so the
        // calls of a fast first second had no database spans (seen in the telemetry test on a warm test process).
        app.Services.GetService<TracerProvider>();
        app.Services.GetService<MeterProvider>();
        if (options.ManagementPort is { } managementPort)
        {
            app.Use((http, next) => http.Connection.LocalPort == managementPort && !http.Request.Path.Equals(options.ScrapePath, StringComparison.Ordinal)
                ? Results.NotFound().ExecuteAsync(http)
                : next(http));
        }
        if (string.IsNullOrWhiteSpace(options.ScrapeToken)) return app;
        var expected = SHA256.HashData(Encoding.UTF8.GetBytes(options.ScrapeToken.Trim()));
        app.UseOpenTelemetryPrometheusScrapingEndpoint(
            meterProvider: null,
            predicate: http => http.Request.Path.Equals(options.ScrapePath, StringComparison.Ordinal)
                && (options.ManagementPort is not { } port || http.Connection.LocalPort == port),
            path: null,
            configureBranchedPipeline: branch => branch.Use((http, next) =>
            {
                if (HasCredential(http, expected)) return next(http);
                http.Response.StatusCode = StatusCodes.Status401Unauthorized;
                http.Response.Headers.WWWAuthenticate = "Bearer realm=\"cratus-metrics\"";
                return Task.CompletedTask;
            }),
            optionsName: null);
        return app;
    }

    private static bool HasCredential(HttpContext http, byte[] expected)
    {
        var header = http.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return false;
        // Compared as digests in constant time: neither the length nor a prefix of the credential shows in the timing.
        return CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(header["Bearer ".Length..].Trim())), expected);
    }

    /// <summary>Every use case, as resolved, is handed the metrics: its outcome is counted in its base class, once for every door.</summary>
    private static void ObserveUseCases(IServiceCollection services)
    {
        for (var i = 0; i < services.Count; i++)
        {
            var descriptor = services[i];
            if (descriptor.IsKeyedService || descriptor.ImplementationType is not { } type || !ApplicationExtensions.UseCases.Contains(type)) continue;
            var create = ActivatorUtilities.CreateFactory(type, Type.EmptyTypes);
            services[i] = new ServiceDescriptor(descriptor.ServiceType, provider =>
            {
                var useCase = create(provider, null);
                ((IObservedUseCase)useCase).Metrics = provider.GetRequiredService<TrialMetrics>();
                return useCase;
            }, descriptor.Lifetime);
        }
    }
}

/// <summary>Times every gRPC call (REST calls through transcoding included) by method and the status its caller got.</summary>
public sealed class CallTelemetryInterceptor(TrialMetrics metrics) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        var started = Stopwatch.GetTimestamp();
        var status = global::Grpc.Core.StatusCode.Unknown;
        try
        {
            var response = await continuation(request, context);
            status = global::Grpc.Core.StatusCode.OK;
            return response;
        }
        catch (RpcException failure)
        {
            status = failure.StatusCode;
            throw;
        }
        finally
        {
            metrics.Called(context.Method, status, Stopwatch.GetElapsedTime(started).TotalSeconds);
        }
    }
}

/// <summary>
/// The last word on what a span may carry (README, "Telemetry"): no request path with an id in it (the route template
/// instead), no query string, no client address or user agent, no SQL text, no exception message or status
/// description (which can name a participant). Runs before any exporter.
/// </summary>
internal sealed class SpanRedaction : BaseProcessor<Activity>
{
    private static readonly string[] Removed =
    [
        "url.query", "url.full", "client.address", "client.port", "network.peer.address", "network.peer.port", "user_agent.original",
        "db.statement", "db.query.text", "exception.message", "exception.stacktrace", "error.message",
    ];

    /// <summary>The request path as its route template (/api/v1/participants/{participant_id}), never the id sent; for a
    /// gRPC call (REST through transcoding included) the rpc.* attributes and the method as the span's name.</summary>
    public static void UseRoute(Activity activity, HttpContext http)
    {
        // Grpc.AspNetCore tags the request's activity with the method and the status it answered.
        if (activity.GetTagItem("grpc.method") is string method)
        {
            var name = method.TrimStart('/');
            var slash = name.IndexOf('/');
            activity.DisplayName = name;
            activity.SetTag("rpc.system", "grpc");
            if (slash > 0)
            {
                activity.SetTag("rpc.service", name[..slash]);
                activity.SetTag("rpc.method", name[(slash + 1)..]);
            }
            if (activity.GetTagItem("grpc.status_code") is { } code) activity.SetTag("rpc.grpc.status_code", code);
        }
        var route = (http.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText
            ?? http.GetEndpoint()?.Metadata.GetMetadata<GrpcMethodMetadata>()?.Method.FullName;
        activity.SetTag("url.path", route is null ? "(unmatched)" : "/" + route.TrimStart('/'));
    }

    /// <summary>A command's span keeps the operation and table (its summary), never the SQL text.</summary>
    public static void RemoveQueryText(Activity activity)
    {
        activity.SetTag("db.statement", null);
        activity.SetTag("db.query.text", null);
    }

    public override void OnEnd(Activity activity)
    {
        foreach (var tag in Removed)
        {
            if (activity.GetTagItem(tag) is not null) activity.SetTag(tag, null);
        }
        if (activity.StatusDescription is not null) activity.SetStatus(activity.Status);
        foreach (var tag in activity.TagObjects.Where(t => t.Key.StartsWith("db.query.parameter.", StringComparison.Ordinal)).Select(t => t.Key).ToList())
            activity.SetTag(tag, null);
    }
}
