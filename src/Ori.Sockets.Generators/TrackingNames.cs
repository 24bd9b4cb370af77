namespace Ori.Sockets.Generators;

/// <summary>Names of the pipeline steps, so tests can check what each step did on a re-run.</summary>
internal static class TrackingNames
{
    public const string Messages = nameof(Messages);
    public const string MessageModels = nameof(MessageModels);
    public const string Routes = nameof(Routes);
    public const string RouteModels = nameof(RouteModels);
    public const string Endpoints = nameof(Endpoints);
    public const string EndpointModels = nameof(EndpointModels);
    public const string Routers = nameof(Routers);
    public const string Dispatcher = nameof(Dispatcher);
    public const string SharedSerializers = nameof(SharedSerializers);
    public const string Contracts = nameof(Contracts);
}
