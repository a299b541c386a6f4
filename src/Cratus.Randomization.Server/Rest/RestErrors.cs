using Cratus.Randomization.Server.Grpc;
using Cratus.Randomization.Server.Limits;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using ErrorInfo = Google.Rpc.ErrorInfo;
using Grpc.Core;
using Proto = Cratus.Randomization.Protos.V1;

namespace Cratus.Randomization.Server.Rest;

/// <summary>
/// Gives every REST refusal the one error form of this service, <c>google.rpc.Status</c> as JSON with an ErrorInfo
/// reason, whoever made it:
/// <list type="bullet">
/// <item>refusals made before the gRPC library runs (no or bad token, rate limit, request too large) are written as
/// a trailers-only gRPC reply (<see cref="RichStatus.Write"/>); here they become the HTTP status and JSON body of that
/// status, details included;</item>
/// <item>JSON transcoding refuses a body it cannot read (malformed JSON, an unknown field, a wrong type) with a status
/// that has no details; here it gets MALFORMED_MESSAGE and a BadRequest, as a gRPC message it cannot read does.</item>
/// </list>
/// The use cases' own refusals already carry their details (the error interceptor), and pass unchanged. REST replies
/// are small, so the response is held until the call ends.
/// </summary>
internal sealed partial class RestErrors(RequestDelegate next, IOptions<LimitOptions> limits)
{
    public async Task InvokeAsync(HttpContext http)
    {
        // JSON transcoding reads the body itself, without gRPC's MaxReceiveMessageSize: a REST body has the same bound.
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize)
            bodySize.MaxRequestBodySize = limits.Value.MaxRequestBytes;
        var body = http.Response.Body;
        using var buffer = new MemoryStream();
        http.Response.Body = buffer;
        try
        {
            await next(http);
        }
        finally
        {
            http.Response.Body = body;
        }

        if (TrailersOnlyStatus(http.Response) is { } refusal)
        {
            await WriteAsync(http.Response, refusal);
            return;
        }
        if (http.Response.StatusCode >= 400 && buffer.Length > 0
            && http.Response.ContentType?.StartsWith("application/json", StringComparison.Ordinal) == true
            && RestExtensions.FromJson(System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length)) is { } status
            && !status.Details.Any(d => d.Is(ErrorInfo.Descriptor)))
        {
            await WriteAsync(http.Response, WithReason(status, limits.Value.MaxRequestBytes));
            return;
        }
        buffer.Position = 0;
        await buffer.CopyToAsync(body, http.RequestAborted);
    }

    /// <summary>The status of a trailers-only gRPC reply written for this request, read back from its headers.</summary>
    private static Google.Rpc.Status? TrailersOnlyStatus(HttpResponse response)
    {
        if (response.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) != true
            || !int.TryParse(response.Headers["grpc-status"], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var code))
            return null;
        var details = response.Headers["grpc-status-details-bin"].ToString();
        var status = details.Length > 0 ? Google.Rpc.Status.Parser.ParseFrom(Convert.FromBase64String(details))
            : new Google.Rpc.Status { Code = code, Message = Uri.UnescapeDataString(response.Headers["grpc-message"].ToString()) };
        foreach (var header in new[] { "grpc-status", "grpc-message", "grpc-status-details-bin" }) response.Headers.Remove(header);
        return status;
    }

    /// <summary>A status the transcoding made without details, given the reason and details this service's own carry.</summary>
    private static Google.Rpc.Status WithReason(Google.Rpc.Status status, int maxRequestBytes)
    {
        var code = (StatusCode)status.Code;
        // Kestrel's refusal of a body over the bound, as the transcoder passes it on.
        if (status.Message.StartsWith("Request body too large", StringComparison.Ordinal))
            return RichStatus.Build(StatusCode.ResourceExhausted, Proto.ErrorReason.RequestTooLarge,
                $"The request is larger than this service accepts ({maxRequestBytes} bytes).");
        var reason = code switch
        {
            StatusCode.InvalidArgument => Proto.ErrorReason.MalformedMessage,
            StatusCode.ResourceExhausted => Proto.ErrorReason.RequestTooLarge,
            StatusCode.Unauthenticated => Proto.ErrorReason.TokenMissing,
            StatusCode.Unavailable => Proto.ErrorReason.DatabaseUnavailable,
            StatusCode.DeadlineExceeded => Proto.ErrorReason.DeadlineExceeded,
            _ => Proto.ErrorReason.InternalFailure,
        };
        // The transcoder's own text names .NET types ("...enum type Cratus.Randomization.Protos.V1.Sex"): only their last name is kept.
        var said = DottedTypeName().Replace(status.Message, "$1").TrimEnd('.');
        var message = code == StatusCode.InvalidArgument
            ? $"The request body could not be read as the JSON request of this route ({said}). Send a JSON object with the fields the OpenAPI document names (lowerCamelCase), each with a value of its type."
            : said + ".";
        return RichStatus.Build(code, reason, message);
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"\b(?:[A-Z][A-Za-z0-9_]*\.){2,}([A-Z][A-Za-z0-9_]*)\b")]
    private static partial System.Text.RegularExpressions.Regex DottedTypeName();

    private static async Task WriteAsync(HttpResponse response, Google.Rpc.Status status)
    {
        var reason = status.Details.Where(d => d.Is(ErrorInfo.Descriptor)).Select(d => d.Unpack<ErrorInfo>().Reason).FirstOrDefault();
        response.StatusCode = reason == RichStatus.ReasonName(Proto.ErrorReason.RequestTooLarge) ? StatusCodes.Status413PayloadTooLarge
            : RestExtensions.HttpStatusOf((StatusCode)status.Code);
        response.ContentType = "application/json; charset=utf-8";
        response.ContentLength = null;
        if (reason == RichStatus.ReasonName(Proto.ErrorReason.RateLimited)) response.Headers.RetryAfter = "1";
        await response.WriteAsync(RestExtensions.ToJson(status), response.HttpContext.RequestAborted);
    }
}
