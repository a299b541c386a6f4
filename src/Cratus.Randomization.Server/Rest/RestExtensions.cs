using Google.Protobuf;
using Google.Protobuf.Reflection;
using BadRequest = Google.Rpc.BadRequest;
using ErrorInfo = Google.Rpc.ErrorInfo;
using PreconditionFailure = Google.Rpc.PreconditionFailure;
using Grpc.Core;
using Microsoft.OpenApi;
using Proto = Cratus.Randomization.Protos.V1;

namespace Cratus.Randomization.Server.Rest;

/// <summary>
/// REST for EDC systems: the RPCs annotated with <c>google.api.http</c> in the protos (randomize, the blinded
/// assignment, the trial, its commitment and escalation status, emergency unblinding and the re-authentication that
/// signs it) answered as JSON under <c>/api/v1</c> by gRPC JSON transcoding. A transcoded call is the gRPC call: the
/// same interceptors (error translation, deadline, access check, retry-safe writes) and use cases run, so a rule, a
/// permission or an audit event is never written twice. Errors are <c>google.rpc.Status</c> as JSON with the same
/// details (ErrorInfo reason, BadRequest, PreconditionFailure) a gRPC client reads. The OpenAPI document of these routes
/// is at <see cref="OpenApiPath"/> and its reference page at <see cref="DocsPath"/>.
/// </summary>
public static class RestExtensions
{
    public const string RoutePrefix = "/api/v1";
    public const string OpenApiPath = "/api/openapi/v1.json";
    public const string DocsPath = "/api/docs";
    private const string BearerScheme = "bearer";

    /// <summary>The error details a REST error may carry; JSON for an <c>Any</c> needs its type registered.</summary>
    public static readonly TypeRegistry ErrorDetails = TypeRegistry.FromMessages(
        ErrorInfo.Descriptor, BadRequest.Descriptor, PreconditionFailure.Descriptor);

    /// <summary>Adds JSON transcoding to the gRPC services (call after <c>AddTrialGrpc</c>) and the OpenAPI document.</summary>
    public static WebApplicationBuilder AddTrialRest(this WebApplicationBuilder builder)
    {
        builder.Services.AddGrpc().AddJsonTranscoding(o => o.TypeRegistry = ErrorDetails);
        builder.Services.AddGrpcSwagger();
        // Grpc.Swagger 0.10.11 was built against Swashbuckle 6: its XML-comment filters (not used here) no longer load
        // beside Swashbuckle 10, and MVC, which the Razor pages bring, scans every type of each assembly it takes for
        // an application part, so the host would not start. It holds no controllers or pages: it is no part.
        builder.Services.AddMvcCore().ConfigureApplicationPartManager(manager =>
        {
            foreach (var part in manager.ApplicationParts.Where(p => p.Name == "Microsoft.AspNetCore.Grpc.Swagger").ToList())
                manager.ApplicationParts.Remove(part);
        });
        builder.Services.AddSwaggerGen(o =>
        {
            o.SwaggerDoc("v1", new OpenApiInfo
            {
                Title = "CRATUS randomization: REST for EDC systems",
                Version = "v1",
                Description = "The calls of a site system (EDC) and an investigator, as JSON over HTTP. Send an access token "
                    + "(client credentials for a site system, from /connect/token) as 'Authorization: Bearer <token>'. Every "
                    + "write carries a request_id (a UUID; the same one on every retry). Errors are google.rpc.Status JSON: "
                    + "code, message and details, among them a google.rpc.ErrorInfo whose reason a program can act on.",
            });
            o.AddSecurityDefinition(BearerScheme, new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                BearerFormat = "JWT",
                Description = "An access token of this service's OpenID Connect server (or the configured external issuer).",
            });
            o.AddSecurityRequirement(document => new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, document)] = [] });
        });
        return builder;
    }

    /// <summary>
    /// Error translation for REST (before authentication and the call limits, which answer some refusals themselves),
    /// the OpenAPI document and the reference page. The transcoded routes themselves are mapped with the gRPC services.
    /// </summary>
    public static WebApplication UseTrialRest(this WebApplication app)
    {
        app.UseWhen(http => IsRest(http.Request), branch => branch.UseMiddleware<RestErrors>());
        // A schema of the routes (no data, nothing blinded): readable without a token, so an EDC vendor can build to it.
        app.UseSwagger(o => o.RouteTemplate = OpenApiPath.TrimStart('/').Replace("v1", "{documentName}", StringComparison.Ordinal));
        // Swashbuckle serves the page's scripts and styles from its own assembly: the page works without the internet.
        app.UseSwaggerUI(o =>
        {
            o.RoutePrefix = DocsPath.TrimStart('/');
            o.SwaggerEndpoint(OpenApiPath, "CRATUS REST v1");
            o.DocumentTitle = "CRATUS randomization: REST reference";
        });
        return app;
    }

    /// <summary>A REST call: under the REST prefix, and not a gRPC call (gRPC clients keep their own error form).</summary>
    public static bool IsRest(HttpRequest request) =>
        request.Path.StartsWithSegments(RoutePrefix, StringComparison.Ordinal)
        && request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) != true;

    /// <summary>The HTTP status of a gRPC status code, as google.rpc.Code documents it (and JSON transcoding answers).</summary>
    public static int HttpStatusOf(StatusCode code) => code switch
    {
        StatusCode.OK => StatusCodes.Status200OK,
        StatusCode.Cancelled => 499,
        StatusCode.InvalidArgument or StatusCode.FailedPrecondition or StatusCode.OutOfRange => StatusCodes.Status400BadRequest,
        StatusCode.DeadlineExceeded => StatusCodes.Status504GatewayTimeout,
        StatusCode.NotFound => StatusCodes.Status404NotFound,
        StatusCode.AlreadyExists or StatusCode.Aborted => StatusCodes.Status409Conflict,
        StatusCode.PermissionDenied => StatusCodes.Status403Forbidden,
        StatusCode.ResourceExhausted => StatusCodes.Status429TooManyRequests,
        StatusCode.Unimplemented => StatusCodes.Status501NotImplemented,
        StatusCode.Unavailable => StatusCodes.Status503ServiceUnavailable,
        StatusCode.Unauthenticated => StatusCodes.Status401Unauthorized,
        _ => StatusCodes.Status500InternalServerError,
    };

    /// <summary>Writes a google.rpc.Status as the JSON a REST client reads.</summary>
    public static string ToJson(Google.Rpc.Status status) =>
        new JsonFormatter(JsonFormatter.Settings.Default.WithTypeRegistry(ErrorDetails)).Format(status);

    internal static Google.Rpc.Status? FromJson(string json)
    {
        try
        {
            return new JsonParser(JsonParser.Settings.Default.WithTypeRegistry(ErrorDetails).WithIgnoreUnknownFields(true)).Parse<Google.Rpc.Status>(json);
        }
        catch (Exception e) when (e is InvalidProtocolBufferException or InvalidJsonException or FormatException)
        {
            return null;
        }
    }

    /// <summary>The reason name of <paramref name="reason"/>, as ErrorInfo carries it.</summary>
    internal static string ReasonName(Proto.ErrorReason reason) => Grpc.RichStatus.ReasonName(reason);
}
