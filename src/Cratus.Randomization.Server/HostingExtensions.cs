using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Security.Cryptography;
using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Application;
using Cratus.Randomization.Server.Grpc;
using Cratus.Randomization.Server.Identity;
using Cratus.Randomization.Server.Limits;
using Cratus.Randomization.Server.Rehearsal;
using Cratus.Randomization.Server.Rest;
using Cratus.Randomization.Server.Security;
using Cratus.Randomization.Server.Web;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Serilog;
using Serilog.Events;
using Serilog.Formatting.Json;

namespace Cratus.Randomization.Server;

/// <summary>Where the trial definition comes from. Bound from the "Trial" section.</summary>
public sealed class TrialOptions
{
    public const string Section = "Trial";

    /// <summary>Path of the trial definition JSON; relative paths are under the application folder.</summary>
    [Required] public string DefinitionPath { get; set; } = "trial-definitions/cratus.json";

    /// <summary>Production, Uat or Training (<see cref="TrialMode"/>); Production unless configured.</summary>
    public TrialMode Mode { get; set; } = TrialMode.Production;
}

public static class HostingExtensions
{
    /// <summary>
    /// The host's options: the content root (where appsettings*.json, the trial definitions, and the default data and
    /// log folders are found) is the application's own folder, so the built server starts the same from any working
    /// directory, unless --contentRoot or ASPNETCORE_CONTENTROOT says otherwise.
    /// </summary>
    public static WebApplicationOptions Options(string[] args)
    {
        var configured = args.Any(a => a.StartsWith("--contentRoot", StringComparison.OrdinalIgnoreCase))
            || Environment.GetEnvironmentVariable("ASPNETCORE_CONTENTROOT") is { Length: > 0 }
            || Environment.GetEnvironmentVariable("DOTNET_CONTENTROOT") is { Length: > 0 };
        return new WebApplicationOptions { Args = args, ContentRootPath = configured ? null : AppContext.BaseDirectory };
    }

    /// <summary>Serilog: human-readable console lines and a daily rolling JSON file. Messages are templates whose
    /// values never include an arm, a dose or personal data (see the [LoggerMessage] methods).</summary>
    public static WebApplicationBuilder AddTrialLogging(this WebApplicationBuilder builder)
    {
        var filePath = builder.Configuration["Logging:FilePath"] ?? "logs/cratus-.json";
        builder.Logging.ClearProviders();
        // The static Log.Logger is left alone: each host (several run in one test process) has its own logger,
        // disposed with the host.
        builder.Services.AddSerilog((_, logger) => logger
            .ReadFrom.Configuration(builder.Configuration)
            // A host that cannot start is reported once, as one line with its exit code (Program.cs, StartupFailure),
            // not as the host's own Error entry with a stack trace; the host's Critical entries still show.
            .MinimumLevel.Override("Microsoft.Extensions.Hosting.Internal.Host", Serilog.Events.LogEventLevel.Fatal)
            .Enrich.FromLogContext()
            .WriteTo.Console(formatProvider: CultureInfo.InvariantCulture, outputTemplate: "[{Timestamp:HH:mm:ss} {Level:u3}] {SourceContext}: {Message:lj}{NewLine}{Exception}")
            .WriteTo.File(new JsonFormatter(renderMessage: true), Path.GetFullPath(filePath, builder.Environment.ContentRootPath),
                rollingInterval: RollingInterval.Day, retainedFileCountLimit: 31),
            preserveStaticLogger: true);
        return builder;
    }

    /// <summary>
    /// One line per request when it ends: method and path, the caller (subject and role, as the access check reads
    /// them), the HTTP status, the gRPC status, and the time taken. Never the body, its headers or the status
    /// message, which may name a participant.
    /// </summary>
    public static WebApplication UseTrialRequestLogging(this WebApplication app)
    {
        var callers = app.Services.GetRequiredService<CallerResolver>();
        app.UseSerilogRequestLogging(o =>
        {
            o.Logger = app.Services.GetRequiredService<Serilog.ILogger>();
            o.MessageTemplate = "HTTP {RequestMethod:l} {RequestPath:l} by {Subject:l} ({Role:l}) responded {StatusCode}, gRPC {GrpcStatus:l}, in {Elapsed:0.0} ms";
            // Load balancers poll the health check; its lines show only at Debug.
            o.GetLevel = (http, _, failure) => failure is not null || http.Response.StatusCode >= 500 ? LogEventLevel.Error
                : http.Request.Path.StartsWithSegments("/grpc.health.v1.Health") ? LogEventLevel.Debug : LogEventLevel.Information;
            o.EnrichDiagnosticContext = (log, http) =>
            {
                var caller = callers.Resolve(http.User);
                log.Set("Subject", caller?.Subject ?? "anonymous");
                log.Set("Role", caller is null ? "none" : TrialRoles.ClaimValue(caller.Role));
                log.Set("GrpcStatus", GrpcStatusOf(http));
            };
        });
        return app;
    }

    /// <summary>The gRPC status of a finished call: in the headers of a trailers-only reply, else in the trailers.</summary>
    private static string GrpcStatusOf(HttpContext http)
    {
        var value = http.Response.Headers["grpc-status"].FirstOrDefault()
            ?? http.Features.Get<IHttpResponseTrailersFeature>()?.Trailers["grpc-status"].FirstOrDefault();
        return int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var code) ? ((global::Grpc.Core.StatusCode)code).ToString() : "none";
    }

    /// <summary>Loads and validates the trial definition once, at start-up; a bad definition stops the server.</summary>
    public static WebApplicationBuilder AddTrialDefinition(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<TrialOptions>().BindConfiguration(TrialOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton(services =>
        {
            var path = Path.GetFullPath(services.GetRequiredService<IOptions<TrialOptions>>().Value.DefinitionPath, AppContext.BaseDirectory);
            if (!File.Exists(path)) throw new InvalidTrialDefinitionException([$"the file {path} does not exist; set Trial:DefinitionPath to the trial definition"]);
            return TrialDefinition.Parse(File.ReadAllText(path));
        });
        // The trial clock: the real time in production, a rehearsal's movable clock in UAT and training.
        builder.AddTrialClock();
        builder.Services.AddSingleton(_ => RandomNumberGenerator.Create());
        return builder.AddTrialApplication();
    }

    public static WebApplicationBuilder AddTrialGrpc(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<ErrorInterceptor>();
        builder.Services.AddSingleton<RetrySafeWrites>();
        builder.Services.AddHostedService<WriteAnswerEraser>();
        builder.Services.AddSingleton<CallDeadlineInterceptor>();
        builder.AddCallLimits();
        var maxRequest = builder.Configuration.GetValue("Limits:MaxRequestBytes", new LimitOptions().MaxRequestBytes);
        builder.Services.AddGrpc(options =>
        {
            // Exception details only where a developer reads them; the error interceptor already hides internals.
            options.EnableDetailedErrors = builder.Environment.IsDevelopment();
            options.MaxReceiveMessageSize = maxRequest;
            options.MaxSendMessageSize = 16 * 1024 * 1024;
            // Errors first, so an access refusal or any failure below is translated once.
            options.Interceptors.Add<ErrorInterceptor>();
            // Inside the error translation, so that its DEADLINE_EXCEEDED passes through unchanged.
            options.Interceptors.Add<CallDeadlineInterceptor>();
            options.Interceptors.Add<AccessInterceptor>();
            // After access: a write's retry is answered only to the caller who made it.
            options.Interceptors.Add<RetrySafeWrites>();
        });
        builder.Services.AddGrpcReflection();
        return builder;
    }

    public static WebApplication MapTrialServices(this WebApplication app)
    {
        // The trial mode on every reply, refusals included (README, "Rehearsal: UAT and training").
        app.UseTrialModeHeader();
        // First, so that refusals by the rate limit and the token check are logged too.
        app.UseTrialRequestLogging();
        // REST: errors in the service's JSON form (refusals below included), the OpenAPI document and reference page.
        app.UseTrialRest();
        // Before authentication, where the OpenID Connect server answers its own endpoints.
        app.UseTokenEndpointLimits();
        app.UseStaticFiles();
        app.UseAuthentication();
        app.UseCallLimits();
        app.UseAuthorization();
        app.MapTrialOpenIdServer();
        app.MapTrialWebApplication();
        app.MapGrpcService<RandomizationGrpcService>();
        app.MapGrpcService<PharmacyGrpcService>();
        app.MapGrpcService<InfusionGrpcService>();
        app.MapGrpcService<TrialGrpcService>();
        app.MapGrpcService<ScheduleGrpcService>();
        app.MapGrpcService<UnblindingGrpcService>();
        app.MapGrpcService<DoseEscalationGrpcService>();
        app.MapGrpcService<ParticipantGrpcService>();
        app.MapGrpcService<AuditGrpcService>();
        app.MapGrpcService<AdministrationGrpcService>();
        app.MapGrpcService<SignatureGrpcService>();
        app.MapGrpcService<RehearsalGrpcService>();
        app.MapGrpcService<ExportGrpcService>();
        app.MapGrpcService<InventoryGrpcService>();
        app.MapGrpcService<ChainOfCustodyGrpcService>();
        // Bootstrapping the first administrator needs no token; the other account methods do.
        app.MapGrpcService<IdentityGrpcService>().AllowAnonymous();
        app.MapGrpcHealthChecksService().AllowAnonymous();
        app.MapGrpcReflectionService();
        // The definition is read now, so a broken one stops the start rather than the first call.
        app.Services.GetRequiredService<TrialDefinition>();
        return app;
    }
}
