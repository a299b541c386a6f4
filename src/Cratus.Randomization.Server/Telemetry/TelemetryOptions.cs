using Microsoft.Extensions.Options;

namespace Cratus.Randomization.Server.Telemetry;

/// <summary>Where telemetry goes (README, "Telemetry"). Bound from the "Telemetry" section.</summary>
public sealed class TelemetryOptions
{
    public const string Section = "Telemetry";

    /// <summary>The bearer credential Prometheus sends to the scrape endpoint; empty: no scrape endpoint at all.</summary>
    public string ScrapeToken { get; set; } = "";

    /// <summary>The scrape endpoint's path.</summary>
    public string ScrapePath { get; set; } = "/metrics";

    /// <summary>If set, the scrape endpoint answers only on connections to this local port (a Kestrel endpoint of its
    /// own, such as Kestrel:Endpoints:Management, kept off the public network), and that port serves nothing else.</summary>
    public int? ManagementPort { get; set; }

    /// <summary>The OTLP collector (traces and metrics); OTEL_EXPORTER_OTLP_ENDPOINT does the same. Empty: no traces.</summary>
    public string OtlpEndpoint { get; set; } = "";

    /// <summary>The collector to export to, from this section or the standard OTEL_EXPORTER_OTLP_ENDPOINT setting.</summary>
    public static string? OtlpEndpointOf(IConfiguration configuration) =>
        new[] { configuration[$"{Section}:{nameof(OtlpEndpoint)}"], configuration["OTEL_EXPORTER_OTLP_ENDPOINT"] }
            .FirstOrDefault(v => !string.IsNullOrWhiteSpace(v));

    /// <summary>The scrape credentials committed to the repository (appsettings.Development.json, .env.example): refused
    /// outside Development, as every other secret from the repository is.</summary>
    public static IReadOnlySet<string> RepositoryScrapeTokens { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "cratus-development-scrape-token-NOT-FOR-PRODUCTION",
        "sample-scrape-token-REPLACE-ME-with-32-random-chars",
    };

    /// <summary>The shortest scrape credential accepted (a guessable one would open the metrics to anyone).</summary>
    public const int MinimumScrapeTokenLength = 24;
}

/// <summary>Every problem of the Telemetry section, each named (StartupFailure reports them all at once).</summary>
internal sealed class TelemetryOptionsValidation(bool isDevelopment) : IValidateOptions<TelemetryOptions>
{
    public ValidateOptionsResult Validate(string? name, TelemetryOptions options)
    {
        var problems = new List<string>();
        var token = options.ScrapeToken;
        if (token.Length > 0 && token.Trim().Length < TelemetryOptions.MinimumScrapeTokenLength)
            problems.Add($"Telemetry:ScrapeToken is shorter than {TelemetryOptions.MinimumScrapeTokenLength} characters: use a random one (openssl rand -hex 24).");
        if (!isDevelopment && TelemetryOptions.RepositoryScrapeTokens.Contains(token.Trim()))
            problems.Add("Telemetry:ScrapeToken is a development or sample secret from the repository. "
                + "Outside the Development environment set your own secret through an environment variable or a secret store.");
        if (!options.ScrapePath.StartsWith('/'))
            problems.Add("Telemetry:ScrapePath must start with '/' (for example /metrics).");
        if (options.ManagementPort is < 1 or > 65535)
            problems.Add("Telemetry:ManagementPort must be a TCP port (1-65535), the port of a Kestrel endpoint of its own.");
        if (!string.IsNullOrWhiteSpace(options.OtlpEndpoint) && !Uri.TryCreate(options.OtlpEndpoint, UriKind.Absolute, out _))
            problems.Add("Telemetry:OtlpEndpoint must be an absolute address (for example http://otel-collector:4317).");
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
