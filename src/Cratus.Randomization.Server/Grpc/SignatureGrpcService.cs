using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Application.Signatures;
using Cratus.Randomization.Server.Security;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Domain = Cratus.Randomization.Domain;

namespace Cratus.Randomization.Server.Grpc;

public sealed class SignatureGrpcService(Reauthenticate reauthenticate) : SignatureService.SignatureServiceBase
{
    [Runs(typeof(Reauthenticate))]
    public override async Task<ReauthenticateResponse> Reauthenticate(ReauthenticateRequest request, ServerCallContext context)
    {
        var issued = await reauthenticate.RunAsync(AccessInterceptor.CallerOf(context),
            new ReauthenticateCommand(SignatureMapping.ToDomain(request.Action), request.RecordId, request.Password, request.TotpCode), context.CancellationToken);
        return new ReauthenticateResponse { SigningProof = issued.SigningProof, ExpiresAt = Timestamp.FromDateTimeOffset(issued.ExpiresAt) };
    }
}

/// <summary>Signatures between the wire and the application: the same names on both sides, UNSPECIFIED as null.</summary>
public static class SignatureMapping
{
    public static Domain.SignedAction? ToDomain(SignedAction action) =>
        action != SignedAction.Unspecified && System.Enum.IsDefined(action) ? (Domain.SignedAction)(int)action : null;

    public static SignatureInput? ToInput(this ElectronicSignature? signature) => signature is null
        ? null
        : new SignatureInput(signature.SigningProof,
            signature.Meaning != SignatureMeaning.Unspecified && System.Enum.IsDefined(signature.Meaning) ? (Domain.SignatureMeaning)(int)signature.Meaning : null);

    public static SignatureManifestation ToProto(this SignatureView s) => new()
    {
        FullName = s.Manifestation.FullName,
        UserName = s.Manifestation.UserName,
        Role = s.Manifestation.Role,
        SignedAt = Timestamp.FromDateTimeOffset(s.Manifestation.SignedAt),
        Meaning = (SignatureMeaning)(int)s.Manifestation.Meaning,
        Action = (SignedAction)(int)s.Action,
        RecordId = s.RecordId,
        RecordSha256 = s.RecordSha256,
        Text = s.Manifestation.ToString(),
    };
}
