using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Application.Identity;
using Cratus.Randomization.Server.Identity;
using Cratus.Randomization.Server.Security;
using Grpc.Core;

namespace Cratus.Randomization.Server.Grpc;

public sealed class IdentityGrpcService(
    Application.Identity.BootstrapAdministrator bootstrap, BeginTotpEnrollment beginTotp,
    ConfirmTotpEnrollment confirmTotp, Application.Identity.ChangePassword changePassword) : IdentityService.IdentityServiceBase
{
    [Runs(typeof(Application.Identity.BootstrapAdministrator))]
    public override async Task<BootstrapAdministratorResponse> BootstrapAdministrator(BootstrapAdministratorRequest request, ServerCallContext context) =>
        new() { UserName = await bootstrap.RunAsync(new BootstrapCommand(request.BootstrapSecret, request.UserName, request.Password, request.FullName), context.CancellationToken) };

    [Runs(typeof(BeginTotpEnrollment))]
    public override async Task<BeginTotpEnrollmentResponse> BeginTotpEnrollment(BeginTotpEnrollmentRequest request, ServerCallContext context)
    {
        var enrollment = await beginTotp.RunAsync(AccessInterceptor.CallerOf(context), default, context.CancellationToken);
        return new BeginTotpEnrollmentResponse { SharedKey = enrollment.SharedKey, AuthenticatorUri = enrollment.AuthenticatorUri };
    }

    [Runs(typeof(ConfirmTotpEnrollment))]
    public override async Task<ConfirmTotpEnrollmentResponse> ConfirmTotpEnrollment(ConfirmTotpEnrollmentRequest request, ServerCallContext context)
    {
        var recoveryCodes = await confirmTotp.RunAsync(AccessInterceptor.CallerOf(context), request.Code, context.CancellationToken);
        return new ConfirmTotpEnrollmentResponse { RecoveryCodes = { recoveryCodes } };
    }

    [Runs(typeof(Application.Identity.ChangePassword))]
    public override async Task<ChangePasswordResponse> ChangePassword(ChangePasswordRequest request, ServerCallContext context)
    {
        await changePassword.RunAsync(AccessInterceptor.CallerOf(context), new PasswordChange(request.CurrentPassword, request.NewPassword), context.CancellationToken);
        return new ChangePasswordResponse();
    }
}
