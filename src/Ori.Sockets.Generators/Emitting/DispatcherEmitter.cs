using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using Ori.Sockets.Generators.Helpers;
using Ori.Sockets.Generators.Model;

namespace Ori.Sockets.Generators.Emitting;

/// <summary>
/// Writes the compilation's dispatch: one static method per route in <c>OriSocketsDispatcher</c>, its table of
/// the routes no endpoint serves (<c>MapOriSockets(pattern)</c>), each [SocketEndpoint] class's implementation
/// of ISocketEndpoint (its connection guards and its own table), and <c>AddSocketRouters()</c>. A table is a
/// switch on the route name's UTF-8 length, then a byte comparison with a u8 literal, then a direct typed call:
/// no strings, no reflection, no allocation. Identifiers are named after routes and types.
/// </summary>
internal static class DispatcherEmitter
{
    private const string Invocation = "global::Ori.Sockets.SocketInvocation";
    private const string ValueTask = "global::System.Threading.Tasks.ValueTask";
    private const string Services = "global::Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions";
    private const string Dispatcher = "global::Ori.Sockets.Generated.OriSocketsDispatcher";

    public static string Emit(DispatcherModel model)
    {
        var names = new DispatchNames(model);
        var w = new SourceWriter();
        Header.Write(w);
        using (w.Block("namespace Ori.Sockets.Generated"))
        {
            w.Line("/// <summary>The routes of this compilation, and the dispatch table of those no [SocketEndpoint] class serves.</summary>");
            w.Line(Header.GeneratedCode);
            using (w.Block("internal sealed class OriSocketsDispatcher : global::Ori.Sockets.ISocketDispatcher"))
            {
                EmitFields(w, model, names);
                w.Line();
                w.Line("/// <summary>The routes of the routers no endpoint class serves: the table of <c>MapOriSockets(pattern)</c>.</summary>");
                EmitTable(w, "public bool TryDispatch", model.Routes.Where(r => !model.IsServed(r.RouterFqn)), r => $"{names.Route(r)}(invocation)");
                foreach (var route in model.Routes)
                {
                    w.Line();
                    EmitRoute(w, route, model.Router(route.RouterFqn)!, names);
                }
            }
        }

        foreach (var endpoint in model.Endpoints)
        {
            w.Line();
            EmitEndpoint(w, model, endpoint, names);
        }

        w.Line();
        EmitRegistration(w, model);
        return w.ToString();
    }

    private static void EmitFields(SourceWriter w, DispatcherModel model, DispatchNames names)
    {
        foreach (var service in names.ConnectionServices)
        {
            w.Line($"/// <summary>{service.Description}: created once per connection from its services, kept in slot {service.Slot}.</summary>");
            var creation = service.Creation ?? $"new {service.Fqn}({Arguments(service.ConstructorArguments)})";
            w.Line($"internal static readonly global::System.Func<global::System.IServiceProvider, {service.Fqn}> {service.Creator} = static services => {creation};");
            w.Line($"internal const int {service.SlotName} = {service.Slot};");
        }

        foreach (var route in model.Routes)
        {
            if (route.Message is not null)
            {
                w.Line($"private static readonly global::Ori.Sockets.SocketSerializer<{route.Message.DeclaredFqn}> {names.Route(route)}_Message = {SerializerEmitter.Expression(route.Message)};");
            }

            if (route.Reply is not null)
            {
                w.Line($"private static readonly global::Ori.Sockets.SocketSerializer<{route.Reply.DeclaredFqn}> {names.Route(route)}_Reply = {SerializerEmitter.Expression(route.Reply)};");
            }

            if (route.Authorization.Count > 0)
            {
                var data = string.Join(", ", route.Authorization.Select(Authorize));
                w.Line($"private static readonly global::Ori.Sockets.SocketAuthorization {names.Route(route)}_Authorization = new({data});");
            }
        }
    }

    /// <summary>A table: <paramref name="call"/> gives the expression that starts a route.</summary>
    private static void EmitTable(SourceWriter w, string signature, IEnumerable<RouteModel> routes, Func<RouteModel, string> call)
    {
        using (w.Block($"{signature}(global::System.ReadOnlySpan<byte> type, {Invocation} invocation, out {ValueTask} completion)"))
        {
            var groups = routes.GroupBy(r => Encoding.UTF8.GetByteCount(r.RouteName)).OrderBy(g => g.Key).ToList();
            if (groups.Count > 0)
            {
                using (w.Block("switch (type.Length)"))
                {
                    foreach (var group in groups)
                    {
                        w.Line($"case {group.Key}:");
                        foreach (var route in group)
                        {
                            w.Line($"    if (global::System.MemoryExtensions.SequenceEqual(type, {route.RouteName.ToLiteral()}u8))");
                            w.Line("    {");
                            w.Line($"        completion = {call(route)};");
                            w.Line("        return true;");
                            w.Line("    }");
                            w.Line();
                        }

                        w.Line("    break;");
                    }
                }

                w.Line();
            }

            w.Line("completion = default;");
            w.Line("return false;");
        }
    }

    private static void EmitRoute(SourceWriter w, RouteModel route, RouterModel router, DispatchNames names)
    {
        var name = names.Route(route);
        var guards = router.MessageGuards.Concat(route.MessageGuards).ToList();

        // The budgets first (the router's, then the route's), then the guards: a refused message costs no guard.
        var limits = new List<string>();
        if (router.RateLimit is not null)
        {
            limits.Add(names.Get(DispatchNames.RouterLimitKey(router.Fqn)));
        }

        if (route.RateLimit is not null)
        {
            limits.Add(names.Get(DispatchNames.RouteLimitKey(route.RouteName)));
        }

        w.Line($"/// <summary>'{route.RouteName}' → {route.RouterFqn.Replace("global::", string.Empty)}.{route.MethodName}</summary>");
        var authorized = route.Authorization.Count > 0;
        if (guards.Count > 0 || authorized)
        {
            using (w.Block($"internal static async {ValueTask} {name}({Invocation} invocation)"))
            {
                foreach (var limit in limits)
                {
                    w.Line($"if (!invocation.PassesRateLimit({limit})) {{ return; }}");
                }

                if (authorized)
                {
                    w.Line("// [Authorize]: the connection's user against the route's policy; a refusal has answered forbidden.");
                    w.Line($"if (!await invocation.AuthorizeAsync({name}_Authorization).ConfigureAwait(false)) {{ return; }}");
                }

                if (guards.Count > 0)
                {
                    w.Line("// The router's message guards, then the route's; the first that does not allow the message has answered it.");
                }

                foreach (var guard in guards)
                {
                    w.Line($"if (!await invocation.PassesAsync({names.Get(guard.Fqn)}).ConfigureAwait(false)) {{ return; }}");
                }

                w.Line($"await {name}_Handler(invocation).ConfigureAwait(false);");
            }

            w.Line();
            name += "_Handler";
            limits.Clear();
        }

        using (w.Block($"{(guards.Count > 0 || authorized ? "private" : "internal")} static {ValueTask} {name}({Invocation} invocation)"))
        {
            foreach (var limit in limits)
            {
                w.Line($"if (!invocation.PassesRateLimit({limit})) {{ return default; }}");
            }

            if (route.Message is not null)
            {
                w.Line("// Reads and validates the data; on failure it has replied validation_failed with the paths.");
                w.Line($"if (!invocation.TryReadData({names.Route(route)}_Message, out var message)) {{ return default; }}");
            }

            var target = route.IsStatic ? route.RouterFqn : "router";
            if (!route.IsStatic)
            {
                w.Line($"var router = {names.Get(route.RouterFqn)};");
            }

            var arguments = string.Join(", ", route.Parameters.Select(p => p switch
            {
                ParameterKind.Message => "message",
                ParameterKind.CancellationToken => "invocation.Aborted",
                _ => route.Context == ContextKind.Typed ? $"new global::Ori.Sockets.SocketContext<{route.StateFqn}>(invocation.Context)" : "invocation.Context",
            }));
            var call = $"{target}.{route.MethodName}({arguments})";
            switch (route.Return)
            {
                case ReturnKind.Void:
                    w.Line($"{call};");
                    w.Line("invocation.Complete();");
                    w.Line("return default;");
                    break;
                case ReturnKind.Task:
                case ReturnKind.ValueTask:
                    w.Line($"return invocation.CompleteWhenDone({call});");
                    break;
                case ReturnKind.Value:
                    w.Line($"invocation.Reply({call}, {names.Route(route)}_Reply);");
                    w.Line("return default;");
                    break;
                default:
                    w.Line($"return invocation.ReplyWhenDone({call}, {names.Route(route)}_Reply);");
                    break;
            }
        }
    }

    private static void EmitEndpoint(SourceWriter w, DispatcherModel model, EndpointModel endpoint, DispatchNames names)
    {
        var routes = model.Routes.Where(r => endpoint.Routers.Contains(r.RouterFqn)).ToList();
        IDisposable? ns = endpoint.Namespace.Length > 0 ? w.Block($"namespace {endpoint.Namespace}") : null;
        w.Line($"/// <summary>The socket endpoint {endpoint.Name}: its connection guards and the table of the routers it serves.</summary>");
        w.Line(Header.GeneratedCode);
        using (w.Block($"partial class {endpoint.Name} : global::Ori.Sockets.ISocketEndpoint"))
        {
            w.Line("/// <inheritdoc />");
            var guards = string.Join(", ", endpoint.ConnectionGuards.Select(g => $"new {g.Fqn}({Arguments(g.ConstructorArguments)})"));
            var array = endpoint.ConnectionGuards.Count == 0 ? "global::System.Array.Empty<global::Ori.Sockets.IConnectionGuard>()" : $"new global::Ori.Sockets.IConnectionGuard[] {{ {guards} }}";
            w.Line($"global::Ori.Sockets.IConnectionGuard[] global::Ori.Sockets.ISocketEndpoint.CreateConnectionGuards(global::System.IServiceProvider services) => {array};");
            w.Line();
            w.Line("/// <inheritdoc />");
            var guarded = endpoint.MessageGuards.Count > 0;
            EmitTable(w, "bool global::Ori.Sockets.ISocketDispatcher.TryDispatch", routes, r => guarded ? $"Guarded(invocation, {Dispatcher}.{names.Route(r)})" : $"{Dispatcher}.{names.Route(r)}(invocation)");
            if (guarded)
            {
                w.Line();
                w.Line("/// <summary>The endpoint's message guards, before every route it serves.</summary>");
                using (w.Block($"private static async {ValueTask} Guarded({Invocation} invocation, global::System.Func<{Invocation}, {ValueTask}> route)"))
                {
                    foreach (var guard in endpoint.MessageGuards)
                    {
                        w.Line($"if (!await invocation.PassesAsync({names.Get(guard.Fqn, Dispatcher)}).ConfigureAwait(false)) {{ return; }}");
                    }

                    w.Line("await route(invocation).ConfigureAwait(false);");
                }
            }
        }

        ns?.Dispose();
    }

    private static void EmitRegistration(SourceWriter w, DispatcherModel model)
    {
        using (w.Block("namespace Ori.Sockets"))
        {
            w.Line("/// <summary>Registers this compilation's generated dispatch.</summary>");
            w.Line(Header.GeneratedCode);
            using (w.Block("internal static class OriSocketsGeneratedRegistration"))
            {
                w.Line("/// <summary>Adds the dispatch table of the routers no endpoint serves (for <c>MapOriSockets(pattern)</c>) and every [SocketEndpoint] class (for <c>MapOriSockets&lt;TEndpoint&gt;(pattern)</c>).</summary>");
                w.Line("/// <param name=\"builder\">The Ori.Sockets builder.</param>");
                w.Line("/// <returns>The builder.</returns>");
                using (w.Block("public static global::Ori.Sockets.OriSocketsBuilder AddSocketRouters(this global::Ori.Sockets.OriSocketsBuilder builder)"))
                {
                    w.Line($"builder.AddDispatcher<{Dispatcher}>();");
                    w.Line("builder.AddContracts(global::Ori.Sockets.OriSocketsGeneratedContracts.TypeScript, global::Ori.Sockets.OriSocketsGeneratedContracts.AsyncApi);");
                    foreach (var router in model.Routers)
                    {
                        foreach (var topic in router.RecoverableTopics)
                        {
                            w.Line($"builder.AddRecoverableTopics({topic.Pattern.ToLiteral()}, {topic.MaxMessages}, global::System.TimeSpan.FromSeconds({topic.MaxAgeSeconds}));");
                        }
                    }

                    foreach (var endpoint in model.Endpoints)
                    {
                        w.Line($"builder.AddEndpoint<{endpoint.Fqn}>();");
                    }

                    w.Line("return builder;");
                }
            }
        }
    }

    private static string Authorize(AuthorizeModel model)
    {
        var members = new List<string>();
        if (model.Policy is not null)
        {
            members.Add($"Policy = {model.Policy.ToLiteral()}");
        }

        if (model.Roles is not null)
        {
            members.Add($"Roles = {model.Roles.ToLiteral()}");
        }

        if (model.AuthenticationSchemes is not null)
        {
            members.Add($"AuthenticationSchemes = {model.AuthenticationSchemes.ToLiteral()}");
        }

        return $"new global::Microsoft.AspNetCore.Authorization.AuthorizeAttribute {{ {string.Join(", ", members)} }}";
    }

    private static string Arguments(EquatableArray<string> services) =>
        string.Join(", ", services.Select(s => s == "global::System.IServiceProvider" ? "services" : $"{Services}.GetRequiredService<{s}>(services)"));

    /// <summary>Unique, readable identifiers for routes and the per-connection objects (routers, message guards).</summary>
    private sealed class DispatchNames
    {
        private readonly Dictionary<RouteModel, string> _routes = [];
        private readonly Dictionary<string, ConnectionService> _services = new(StringComparer.Ordinal);

        public DispatchNames(DispatcherModel model)
        {
            var taken = new HashSet<string>(StringComparer.Ordinal);
            foreach (var route in model.Routes)
            {
                _routes[route] = Unique("Route_" + Identifier(route.RouteName), taken);
            }

            void Add(string fqn, EquatableArray<string> constructorArguments)
            {
                if (!_services.ContainsKey(fqn))
                {
                    var name = Unique(Identifier(ShortName(fqn)), taken);
                    _services[fqn] = new ConnectionService(fqn, "s_create" + name, name + "Slot", _services.Count, constructorArguments, null, fqn.Replace("global::", string.Empty));
                }
            }

            foreach (var router in model.Routers)
            {
                if (model.Routes.Any(r => r.RouterFqn == router.Fqn && !r.IsStatic))
                {
                    Add(router.Fqn, router.ConstructorArguments);
                }

                foreach (var guard in router.MessageGuards)
                {
                    Add(guard.Fqn, guard.ConstructorArguments);
                }
            }

            foreach (var guard in model.Routes.SelectMany(r => r.MessageGuards).Concat(model.Endpoints.SelectMany(e => e.MessageGuards)))
            {
                Add(guard.Fqn, guard.ConstructorArguments);
            }

            // Rate limiters: one per connection for each router and route with a [RateLimit].
            void AddLimiter(string key, string name, RateLimitModel limit, string description)
            {
                var identifier = Unique(Identifier(name) + "_RateLimit", taken);
                var permits = limit.PermitsPerSecond.ToString("R", System.Globalization.CultureInfo.InvariantCulture) + "d";
                _services[key] = new ConnectionService(Limiter, "s_create" + identifier, identifier + "Slot", _services.Count, EquatableArray<string>.Empty,
                    $"{Limiter}.Create(services, {permits}, {limit.Burst.ToString(System.Globalization.CultureInfo.InvariantCulture)})",
                    description);
            }

            foreach (var router in model.Routers.Where(r => r.RateLimit is not null))
            {
                AddLimiter(RouterLimitKey(router.Fqn), ShortName(router.Fqn), router.RateLimit!, $"The message budget of {router.Fqn.Replace("global::", string.Empty)}'s routes");
            }

            foreach (var route in model.Routes.Where(r => r.RateLimit is not null))
            {
                AddLimiter(RouteLimitKey(route.RouteName), "Route_" + Identifier(route.RouteName), route.RateLimit!, $"The message budget of '{route.RouteName}'");
            }
        }

        private const string Limiter = "global::Ori.Sockets.SocketMessageRateLimiter";

        public static string RouterLimitKey(string routerFqn) => "ratelimit:router:" + routerFqn;

        public static string RouteLimitKey(string routeName) => "ratelimit:route:" + routeName;

        public IEnumerable<ConnectionService> ConnectionServices => _services.Values.OrderBy(s => s.Slot);

        public string Route(RouteModel route) => _routes[route];

        /// <summary>The expression that gets the connection's instance of <paramref name="fqn"/>.</summary>
        public string Get(string fqn, string? owner = null)
        {
            var service = _services[fqn];
            var prefix = owner is null ? string.Empty : owner + ".";
            return $"invocation.Context.GetConnectionService({prefix}{service.SlotName}, {prefix}{service.Creator})";
        }

        private static string ShortName(string fqn)
        {
            var name = fqn.Replace("global::", string.Empty);
            var generic = name.IndexOf('<');
            if (generic >= 0)
            {
                name = name.Substring(0, generic);
            }

            return name.Substring(name.LastIndexOf('.') + 1);
        }

        private static string Identifier(string text)
        {
            var chars = text.ToCharArray();
            for (var i = 0; i < chars.Length; i++)
            {
                if (!char.IsLetterOrDigit(chars[i]) && chars[i] != '_')
                {
                    chars[i] = '_';
                }
            }

            return new string(chars);
        }

        private static string Unique(string name, HashSet<string> taken)
        {
            var candidate = name;
            for (var i = 2; !taken.Add(candidate); i++)
            {
                candidate = name + "_" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            return candidate;
        }
    }

    /// <summary>An object created once per connection: its type, the field that creates it (a constructor call, or <paramref name="Creation"/>), its slot.</summary>
    private sealed record ConnectionService(string Fqn, string Creator, string SlotName, int Slot, EquatableArray<string> ConstructorArguments, string? Creation, string Description);
}
